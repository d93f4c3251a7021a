//! The `Replaces` header (RFC 3891): an INVITE that takes over an existing dialog, the last step
//! of an attended transfer. Sans-IO parsing; the UA matches and swaps the calls.

/// `call-id;to-tag=X;from-tag=Y[;early-only]`. The tags are from the recipient's view: `to_tag`
/// is the recipient's own (local) tag, `from_tag` the far end's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    pub early_only: bool,
}

/// `None` when the value lacks the Call-ID or either tag.
pub fn parse_replaces(value: &str) -> Option<Replaces> {
    let mut parts = value.split(';');
    let call_id = parts.next()?.trim();
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return None;
    }
    let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "to-tag" => to_tag = Some(v.trim().to_string()),
            "from-tag" => from_tag = Some(v.trim().to_string()),
            "early-only" => early_only = true,
            _ => {}
        }
    }
    Some(Replaces {
        call_id: call_id.to_string(),
        to_tag: to_tag.filter(|t| !t.is_empty())?,
        from_tag: from_tag.filter(|t| !t.is_empty())?,
        early_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(
            parse_replaces("abc@10.0.0.1;to-tag=x1;from-tag=y2"),
            Some(Replaces {
                call_id: "abc@10.0.0.1".into(),
                to_tag: "x1".into(),
                from_tag: "y2".into(),
                early_only: false
            })
        );
        let r = parse_replaces(" abc ; From-Tag=b ; TO-TAG=a ; early-only").unwrap();
        assert_eq!(
            (r.to_tag.as_str(), r.from_tag.as_str(), r.early_only),
            ("a", "b", true)
        );
        assert_eq!(parse_replaces("abc;to-tag=a"), None);
        assert_eq!(parse_replaces(";to-tag=a;from-tag=b"), None);
        assert_eq!(parse_replaces("abc;to-tag=;from-tag=b"), None);
        assert_eq!(parse_replaces(""), None);
    }
}
