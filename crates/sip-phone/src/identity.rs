//! Who is calling: the caller identity the screen pop needs, read from an incoming INVITE's
//! headers. Sans-IO: works on (name, value) pairs so it is tested and fuzzed without a stack.
//!
//! Trust order for the number: P-Asserted-Identity (RFC 3325, set by the PBX or carrier after
//! it checked the caller), then Remote-Party-ID (draft-ietf-sip-privacy, still sent by many
//! Asterisk/Cisco setups), then From. Diversion (RFC 5806) and History-Info tell why the call
//! reached us; IVR data rides in configured headers (`X-*`, `User-to-User`).

use serde::Serialize;
use std::collections::BTreeMap;

/// One `name-addr` or `addr-spec`: `"Display" <sip:user@host;p>;tag=x` or `sip:user@host`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameAddr {
    pub display_name: Option<String>,
    /// The URI as written, without the angle brackets.
    pub uri: String,
    /// The user part of a sip:/sips: URI, or the number of a tel: URI.
    pub user: Option<String>,
    /// Header parameters after the URI (`tag`, `privacy`, `reason`, `screen`...), lowercased
    /// names.
    pub params: BTreeMap<String, String>,
}

/// Where the number shown to the agent came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentitySource {
    PAssertedIdentity,
    RemotePartyId,
    From,
}

/// One redirection hop: who forwarded the call to us and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diversion {
    pub number: Option<String>,
    pub display_name: Option<String>,
    pub reason: Option<String>,
}

/// The caller as the incoming-call event carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerIdentity {
    pub display_name: Option<String>,
    /// The caller's number (user part or tel: number) as signalled; E.164 normalisation is the
    /// screen pop's job (crate phone-numbers) because it depends on the center's country.
    pub number: Option<String>,
    pub uri: Option<String>,
    pub source: IdentitySource,
    /// The caller asked for privacy (`Privacy: id` / `privacy=full` / anonymous From).
    pub withheld: bool,
    /// The callee the PBX dialled (To), e.g. a queue or DID.
    pub called_number: Option<String>,
    pub diversions: Vec<Diversion>,
    /// Configured IVR headers that were present, by the header name as configured.
    pub ivr: BTreeMap<String, String>,
}

/// Parses a header value holding one name-addr / addr-spec. `None` for garbage.
pub fn parse_name_addr(value: &str) -> Option<NameAddr> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let (display_name, uri, rest) = if let Some(open) = find_unquoted(value, '<') {
        let display = value[..open].trim();
        let close = value[open..].find('>')? + open;
        let uri = value[open + 1..close].trim();
        (unquote(display), uri, &value[close + 1..])
    } else {
        // addr-spec: header parameters start at the first ';' (RFC 3261 section 20.10).
        match value.find(';') {
            Some(i) => (None, value[..i].trim(), &value[i..]),
            None => (None, value, ""),
        }
    };
    if uri.is_empty() || !uri.contains(':') {
        return None;
    }
    Some(NameAddr {
        display_name,
        user: uri_user(uri),
        uri: uri.to_string(),
        params: parse_params(rest),
    })
}

/// The user part of `sip:user@host`, `sips:…`, or the number of `tel:+861…;phone-context=…`.
pub fn uri_user(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let scheme = scheme.trim().to_ascii_lowercase();
    let user = match scheme.as_str() {
        "sip" | "sips" => {
            let at = rest.rfind('@')?;
            let userinfo = &rest[..at];
            // user:password is deprecated but legal; never keep a password.
            userinfo.split(':').next().unwrap_or_default()
        }
        "tel" => rest.split(';').next().unwrap_or_default(),
        _ => return None,
    };
    let user = percent_decode(user.trim());
    (!user.is_empty()).then_some(user)
}

/// Extracts the caller identity from an INVITE's headers. `ivr_headers` are the header names
/// the center configured as IVR data (case-insensitive; a trailing `*` matches a prefix, e.g.
/// `X-IVR-*`).
pub fn caller_identity(headers: &[(String, String)], ivr_headers: &[String]) -> CallerIdentity {
    let get_all = |name: &str, compact: Option<&str>| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| {
                n.eq_ignore_ascii_case(name) || compact.is_some_and(|c| n.eq_ignore_ascii_case(c))
            })
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let first = |name: &str, compact: Option<&str>| get_all(name, compact).into_iter().next();

    let from = first("From", Some("f")).and_then(parse_name_addr);
    let pai = get_all("P-Asserted-Identity", None)
        .into_iter()
        .flat_map(split_list)
        .filter_map(|v| parse_name_addr(&v))
        // Prefer the tel: or a SIP URI with a number when both are given.
        .min_by_key(|a| !a.uri.to_ascii_lowercase().starts_with("tel:"));
    let rpid = first("Remote-Party-ID", None).and_then(parse_name_addr);
    let to = first("To", Some("t")).and_then(parse_name_addr);

    let privacy_header = first("Privacy", None)
        .map(|p| {
            p.split(';').any(|t| {
                matches!(
                    t.trim().to_ascii_lowercase().as_str(),
                    "id" | "user" | "header"
                )
            })
        })
        .unwrap_or(false);

    let (chosen, source) = match (&pai, &rpid) {
        (Some(a), _) => (a.clone(), IdentitySource::PAssertedIdentity),
        (None, Some(r)) if r.user.is_some() => (r.clone(), IdentitySource::RemotePartyId),
        _ => match &from {
            Some(f) => (f.clone(), IdentitySource::From),
            None => (
                NameAddr {
                    display_name: None,
                    uri: String::new(),
                    user: None,
                    params: BTreeMap::new(),
                },
                IdentitySource::From,
            ),
        },
    };
    let rpid_private = rpid
        .as_ref()
        .and_then(|r| r.params.get("privacy"))
        .is_some_and(|p| !p.eq_ignore_ascii_case("off"));
    let from_anonymous = from.as_ref().is_some_and(|f| {
        f.user
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case("anonymous"))
            || f.uri.to_ascii_lowercase().contains("anonymous.invalid")
    });
    let withheld =
        privacy_header || rpid_private || (source == IdentitySource::From && from_anonymous);

    // The display name: the asserted one, else what From says (PBXs often put the CRM name
    // there), never "anonymous".
    let display_name = chosen
        .display_name
        .clone()
        .or_else(|| from.as_ref().and_then(|f| f.display_name.clone()))
        .filter(|d| !d.eq_ignore_ascii_case("anonymous") && !d.trim().is_empty());
    let number = chosen
        .user
        .clone()
        .filter(|u| !u.eq_ignore_ascii_case("anonymous"));

    let diversions = get_all("Diversion", None)
        .into_iter()
        .flat_map(split_list)
        .filter_map(|v| parse_name_addr(&v))
        .map(|a| Diversion {
            number: a.user.clone(),
            display_name: a.display_name.clone(),
            reason: a.params.get("reason").cloned(),
        })
        .collect();

    let mut ivr = BTreeMap::new();
    for wanted in ivr_headers {
        let (prefix, is_prefix) = match wanted.strip_suffix('*') {
            Some(p) => (p, true),
            None => (wanted.as_str(), false),
        };
        for (name, value) in headers {
            let matches = if is_prefix {
                name.len() >= prefix.len()
                    && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            } else {
                name.eq_ignore_ascii_case(prefix)
            };
            if matches {
                let key = if is_prefix {
                    name.clone()
                } else {
                    wanted.clone()
                };
                ivr.entry(key).or_insert_with(|| value.trim().to_string());
            }
        }
    }

    CallerIdentity {
        display_name,
        number,
        uri: (!chosen.uri.is_empty()).then(|| chosen.uri.clone()),
        source,
        withheld,
        called_number: to.and_then(|t| t.user),
        diversions,
        ivr,
    }
}

/// Splits a header value holding a comma-separated list of name-addrs, respecting quotes and
/// angle brackets.
fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut in_quotes, mut in_angle, mut escaped) = (false, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            current.push(c);
            continue;
        }
        match c {
            '\\' if in_quotes => {
                escaped = true;
                current.push(c);
            }
            '"' if !in_angle => {
                in_quotes = !in_quotes;
                current.push(c);
            }
            '<' if !in_quotes => {
                in_angle = true;
                current.push(c);
            }
            '>' if !in_quotes => {
                in_angle = false;
                current.push(c);
            }
            ',' if !in_quotes && !in_angle => {
                if !current.trim().is_empty() {
                    out.push(current.trim().to_string());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

fn find_unquoted(s: &str, wanted: char) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c == wanted && !in_quotes => return Some(i),
            _ => {}
        }
    }
    None
}

fn unquote(display: &str) -> Option<String> {
    let d = display.trim();
    if d.is_empty() {
        return None;
    }
    let inner = d
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(d);
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

fn parse_params(rest: &str) -> BTreeMap<String, String> {
    rest.split(';')
        .filter_map(|p| {
            let p = p.trim();
            if p.is_empty() {
                return None;
            }
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            ))
        })
        .collect()
}

/// `%2B86` → `+86`; invalid escapes are kept as written. Also un-escapes URI headers
/// (`?Replaces=...`).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn name_addr_forms() {
        let a = parse_name_addr(
            r#""Zhang \"San\"" <sip:+8613800138000@pbx.example;user=phone>;tag=abc"#,
        )
        .unwrap();
        assert_eq!(a.display_name.as_deref(), Some(r#"Zhang "San""#));
        assert_eq!(a.user.as_deref(), Some("+8613800138000"));
        assert_eq!(a.params.get("tag").map(String::as_str), Some("abc"));
        let b = parse_name_addr("sip:1001@10.0.0.1;tag=x").unwrap();
        assert_eq!(b.uri, "sip:1001@10.0.0.1");
        assert_eq!(b.params.get("tag").map(String::as_str), Some("x"));
        let c = parse_name_addr("王五 <tel:+8613912345678;phone-context=+86>").unwrap();
        assert_eq!(c.display_name.as_deref(), Some("王五"));
        assert_eq!(c.user.as_deref(), Some("+8613912345678"));
        assert_eq!(parse_name_addr("  "), None);
        assert_eq!(parse_name_addr("<nonsense"), None);
        assert_eq!(parse_name_addr("\"only a name\""), None);
        assert_eq!(uri_user("sip:%2B8610@x"), Some("+8610".into()));
        assert_eq!(uri_user("sip:alice:secret@x").as_deref(), Some("alice"));
        assert_eq!(uri_user("mailto:a@b"), None);
    }

    #[test]
    fn asserted_identity_wins_over_from() {
        let id = caller_identity(
            &h(&[
                ("From", "\"Queue 5\" <sip:5000@pbx>;tag=1"),
                ("To", "<sip:4001@pbx>"),
                (
                    "P-Asserted-Identity",
                    "\"Li Si\" <sip:+8613800138000@carrier>, <tel:+8613800138000>",
                ),
            ]),
            &[],
        );
        assert_eq!(id.source, IdentitySource::PAssertedIdentity);
        assert_eq!(id.number.as_deref(), Some("+8613800138000"));
        assert_eq!(id.uri.as_deref(), Some("tel:+8613800138000"));
        // The tel: entry has no name; From's display is the fallback.
        assert_eq!(id.display_name.as_deref(), Some("Queue 5"));
        assert_eq!(id.called_number.as_deref(), Some("4001"));
        assert!(!id.withheld);
    }

    #[test]
    fn remote_party_id_and_privacy() {
        let id = caller_identity(
            &h(&[
                ("f", "<sip:anonymous@anonymous.invalid>;tag=9"),
                (
                    "Remote-Party-ID",
                    "\"Wang\" <sip:013912345678@gw>;party=calling;privacy=full;screen=yes",
                ),
            ]),
            &[],
        );
        assert_eq!(id.source, IdentitySource::RemotePartyId);
        assert_eq!(id.number.as_deref(), Some("013912345678"));
        assert!(id.withheld, "privacy=full marks the number as withheld");

        let anon = caller_identity(
            &h(&[(
                "From",
                "\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=1",
            )]),
            &[],
        );
        assert!(anon.withheld);
        assert_eq!(anon.number, None);
        assert_eq!(anon.display_name, None);

        let privacy = caller_identity(
            &h(&[("From", "<sip:1002@pbx>;tag=1"), ("Privacy", "id;critical")]),
            &[],
        );
        assert!(privacy.withheld);
    }

    #[test]
    fn diversions_and_ivr_headers() {
        let id = caller_identity(
            &h(&[
                ("From", "<sip:13800138000@pbx>;tag=1"),
                (
                    "Diversion",
                    "<sip:4000@pbx>;reason=no-answer;counter=1, \"Sales\" <sip:4100@pbx>;reason=unconditional",
                ),
                ("X-IVR-Choice", "2"),
                ("x-ivr-account", " 12345 "),
                ("User-to-User", "56a390f3d2b7310023a2;encoding=hex"),
                ("X-Other", "ignored"),
            ]),
            &["X-IVR-*".to_string(), "User-to-User".to_string()],
        );
        assert_eq!(id.diversions.len(), 2);
        assert_eq!(id.diversions[0].number.as_deref(), Some("4000"));
        assert_eq!(id.diversions[0].reason.as_deref(), Some("no-answer"));
        assert_eq!(id.diversions[1].display_name.as_deref(), Some("Sales"));
        assert_eq!(id.ivr.get("X-IVR-Choice").map(String::as_str), Some("2"));
        assert_eq!(
            id.ivr.get("x-ivr-account").map(String::as_str),
            Some("12345")
        );
        assert!(id.ivr.contains_key("User-to-User"));
        assert!(!id.ivr.contains_key("X-Other"));
    }

    #[test]
    fn list_split_respects_quotes_and_brackets() {
        assert_eq!(
            split_list(r#""A, B" <sip:1@x;a=b,c>, <tel:+1>"#),
            vec![
                r#""A, B" <sip:1@x;a=b,c>"#.to_string(),
                "<tel:+1>".to_string()
            ]
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_headers(
            names in proptest::collection::vec("[A-Za-z-]{1,20}", 0..6),
            values in proptest::collection::vec(".{0,80}", 0..6),
        ) {
            let headers: Vec<(String, String)> = names.into_iter().zip(values).collect();
            let _ = caller_identity(&headers, &["X-*".to_string()]);
            for (_, v) in &headers {
                let _ = parse_name_addr(v);
            }
        }
    }
}
