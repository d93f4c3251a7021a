//! The NOTIFYs of a REFER's implicit subscription (RFC 3515 2.4.5): `Event: refer`, a
//! `Subscription-State` and a `message/sipfrag` body whose status line says how far the
//! transferee's call to the target got.
//!
//! rsipstack 0.7.14's `ReferStatus::parse` looks for `Event` and `Subscription-State` among
//! unknown headers only, but its parser types both (`Header::Event`,
//! `Header::SubscriptionState`): it never recognises a NOTIFY received from the network.

/// (status code in the sipfrag, subscription terminated) of a refer NOTIFY, from its headers
/// as (name, value) pairs and its body; None when it is not one.
pub fn parse(headers: &[(String, String)], body: &[u8]) -> Option<(u16, bool)> {
    let value = |names: &[&str]| {
        headers
            .iter()
            .find(|(n, _)| names.iter().any(|w| n.trim().eq_ignore_ascii_case(w)))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    let event = value(&["Event", "o"])?;
    let package = event.split(';').next().unwrap_or_default().trim();
    if package != "refer" {
        return None;
    }
    let terminated = value(&["Subscription-State"])
        .is_some_and(|s| s.split(';').next().unwrap_or_default().trim() == "terminated");
    let body = std::str::from_utf8(body).ok()?;
    let status_line = body
        .lines()
        .map(str::trim)
        .find(|l| l.to_ascii_uppercase().starts_with("SIP/2.0"))?;
    let code: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    if !(100..700).contains(&code) {
        return None;
    }
    Some((code, terminated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn baresip_notifies() {
        let trying = h(&[
            ("Event", "refer;id=3"),
            ("Subscription-State", "active;expires=60"),
            ("Content-Type", "message/sipfrag"),
        ]);
        assert_eq!(
            parse(&trying, b"SIP/2.0 100 Trying\r\n"),
            Some((100, false))
        );
        let done = h(&[
            ("Event", "refer;id=3"),
            ("Subscription-State", "terminated;reason=noresource"),
        ]);
        assert_eq!(parse(&done, b"SIP/2.0 200 OK\r\n"), Some((200, true)));
        // Compact Event, status line without CRLF.
        let compact = h(&[("o", "refer"), ("Subscription-State", "terminated")]);
        assert_eq!(parse(&compact, b"SIP/2.0 486 Busy Here"), Some((486, true)));
    }

    #[test]
    fn other_notifies_are_not_refer_progress() {
        let dialog = h(&[("Event", "dialog"), ("Subscription-State", "active")]);
        assert_eq!(parse(&dialog, b"SIP/2.0 200 OK"), None);
        let referish = h(&[("Event", "refer-x")]);
        assert_eq!(parse(&referish, b"SIP/2.0 200 OK"), None);
        let no_event = h(&[("Subscription-State", "active")]);
        assert_eq!(parse(&no_event, b"SIP/2.0 200 OK"), None);
        let refer = h(&[("Event", "refer")]);
        assert_eq!(parse(&refer, b"garbage"), None);
        assert_eq!(parse(&refer, b"SIP/2.0 abc OK"), None);
        assert_eq!(parse(&refer, b"SIP/2.0 99999 OK"), None);
        assert_eq!(parse(&refer, &[0xff, 0xfe]), None);
    }
}
