//! `tel:` (RFC 3966) and `sip:`/`sips:` (RFC 3261) links to dial.
//!
//! A `tel:` link's visual separators (`-`, `.`, `(`, `)`, spaces) are dropped; a global number
//! keeps its `+`; a local number with `;phone-context=+CC…` becomes global, one with a domain
//! context stays local. A `sip:` link keeps `user@host[:port]` (and `sips:` its scheme), drops
//! parameters and headers. Anything else is refused with an error that says what is wrong.
//! [`parse_dial_link`] takes any string and never panics (fuzzed in the tests).

use serde::Serialize;

/// The longest link accepted (a link from a web page or a mail is short).
pub const MAX_LINK_LEN: usize = 2048;
const MAX_DIGITS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkScheme {
    Tel,
    Sip,
    Sips,
}

/// A link made ready for the phone's dial path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialLink {
    pub scheme: LinkScheme,
    /// What to dial: a number (`+861012345678`, `10086`, `*21#`) or a SIP URI (`sip:bob@example.com`).
    pub target: String,
    /// The link as given (trimmed), for the UI to show.
    pub original: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("not a phone link: expected tel:, sip: or sips:")]
    UnknownScheme,
    #[error("the link is longer than {MAX_LINK_LEN} characters")]
    TooLong,
    #[error("the link has no number or address")]
    Empty,
    #[error("invalid character {0:?} in the number")]
    BadCharacter(char),
    #[error("the number has too many digits (at most {MAX_DIGITS})")]
    TooManyDigits,
    #[error("the number has no digits")]
    NoDigits,
    #[error("invalid phone-context {0:?}")]
    BadContext(String),
    #[error("invalid percent-encoding in the link")]
    BadEscape,
    #[error("invalid SIP address: {0}")]
    BadSipAddress(&'static str),
}

/// Parses a `tel:`, `sip:` or `sips:` link into what the phone dials.
pub fn parse_dial_link(input: &str) -> Result<DialLink, LinkError> {
    let original = input.trim();
    if original.len() > MAX_LINK_LEN {
        return Err(LinkError::TooLong);
    }
    let (scheme, rest) = split_scheme(original).ok_or(LinkError::UnknownScheme)?;
    let rest = rest.trim_start_matches("//");
    if rest.is_empty() {
        return Err(LinkError::Empty);
    }
    let target = match scheme {
        LinkScheme::Tel => tel_target(rest)?,
        LinkScheme::Sip | LinkScheme::Sips => sip_target(scheme, rest)?,
    };
    Ok(DialLink {
        scheme,
        target,
        original: original.to_owned(),
    })
}

/// The first dial link among a launch's arguments (a second launch hands over its `argv`; the
/// OS passes a clicked link as an argument), skipping the program name and options.
pub fn dial_link_in_args<S: AsRef<str>>(args: &[S]) -> Option<Result<DialLink, LinkError>> {
    link_argument(args).map(parse_dial_link)
}

/// The first argument (after the program name) that has a dial link's scheme, as given.
pub fn link_argument<S: AsRef<str>>(args: &[S]) -> Option<&str> {
    args.iter()
        .skip(1)
        .map(AsRef::as_ref)
        .find(|a| split_scheme(a.trim()).is_some())
}

fn split_scheme(text: &str) -> Option<(LinkScheme, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "tel" | "callto" => LinkScheme::Tel,
        "sip" => LinkScheme::Sip,
        "sips" => LinkScheme::Sips,
        _ => return None,
    };
    Some((scheme, rest))
}

/// Decodes `%XX` escapes (links from browsers encode `+` and spaces).
fn percent_decode(text: &str) -> Result<String, LinkError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(LinkError::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| LinkError::BadEscape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| LinkError::BadEscape)?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| LinkError::BadEscape)
}

fn is_visual_separator(c: char) -> bool {
    matches!(c, '-' | '.' | '(' | ')' | ' ' | '\u{a0}')
}

fn tel_target(rest: &str) -> Result<String, LinkError> {
    let decoded = percent_decode(rest)?;
    let mut parts = decoded.split(';');
    let number = parts.next().unwrap_or_default().trim();
    let mut context = None;
    for param in parts {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        if name.trim().eq_ignore_ascii_case("phone-context") {
            context = Some(value.trim().to_owned());
        }
    }
    let global = number.starts_with('+');
    let mut digits = String::new();
    for c in number.trim_start_matches('+').chars() {
        match c {
            '0'..='9' | '*' | '#' => digits.push(c),
            c if is_visual_separator(c) => {}
            other => return Err(LinkError::BadCharacter(other)),
        }
    }
    if !digits.chars().any(|c| c.is_ascii_digit()) {
        return Err(if digits.is_empty() && number.is_empty() {
            LinkError::Empty
        } else {
            LinkError::NoDigits
        });
    }
    if global {
        if digits.contains(['*', '#']) {
            return Err(LinkError::BadCharacter(if digits.contains('*') {
                '*'
            } else {
                '#'
            }));
        }
        return bounded(format!("+{digits}"));
    }
    match context {
        // A global context prefixes the local number (RFC 3966 §5.1.5).
        Some(ctx) if ctx.starts_with('+') => {
            let mut prefix = String::new();
            for c in ctx[1..].chars() {
                match c {
                    '0'..='9' => prefix.push(c),
                    c if is_visual_separator(c) => {}
                    _ => return Err(LinkError::BadContext(ctx.clone())),
                }
            }
            if prefix.is_empty() || digits.contains(['*', '#']) {
                return Err(LinkError::BadContext(ctx));
            }
            bounded(format!("+{prefix}{digits}"))
        }
        // A domain context: the number is local to the center's own plan.
        Some(ctx)
            if !ctx.is_empty()
                && ctx
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') =>
        {
            bounded(digits)
        }
        Some(ctx) => Err(LinkError::BadContext(ctx)),
        None => bounded(digits),
    }
}

fn bounded(number: String) -> Result<String, LinkError> {
    if number.chars().filter(char::is_ascii_alphanumeric).count() > MAX_DIGITS {
        Err(LinkError::TooManyDigits)
    } else {
        Ok(number)
    }
}

fn sip_target(scheme: LinkScheme, rest: &str) -> Result<String, LinkError> {
    // Parameters (`;transport=tcp`) and headers (`?subject=…`) are not part of the address.
    let address = rest.split(['?', ';']).next().unwrap_or_default();
    let (user, host) = match address.rsplit_once('@') {
        Some((user, host)) => (Some(percent_decode(user)?), host),
        None => (None, address),
    };
    if let Some(user) = &user {
        if user.is_empty() {
            return Err(LinkError::BadSipAddress("empty user before @"));
        }
        if user.contains(':') {
            return Err(LinkError::BadSipAddress(
                "a password in the link is not accepted",
            ));
        }
        if !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/#".contains(c))
        {
            return Err(LinkError::BadSipAddress(
                "invalid character in the user part",
            ));
        }
    }
    let (hostname, port) = split_port(host)?;
    if hostname.is_empty() {
        return Err(LinkError::BadSipAddress("no host"));
    }
    let ipv6 = hostname.starts_with('[') && hostname.ends_with(']');
    let valid_host = if ipv6 {
        hostname[1..hostname.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    } else {
        hostname.len() <= 253
            && hostname.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    if !valid_host {
        return Err(LinkError::BadSipAddress("invalid host"));
    }
    let scheme = if scheme == LinkScheme::Sips {
        "sips"
    } else {
        "sip"
    };
    let mut target = format!("{scheme}:");
    if let Some(user) = user {
        target.push_str(&user);
        target.push('@');
    }
    target.push_str(&hostname.to_ascii_lowercase());
    if let Some(port) = port {
        target.push(':');
        target.push_str(&port.to_string());
    }
    Ok(target)
}

fn split_port(host: &str) -> Result<(&str, Option<u16>), LinkError> {
    let (name, port) = if let Some(end) = host.find(']') {
        let (name, after) = host.split_at(end + 1);
        (name, after.strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    match port {
        None => Ok((name, None)),
        Some(port) => match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok((name, Some(p))),
            _ => Err(LinkError::BadSipAddress("invalid port")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn target(link: &str) -> String {
        parse_dial_link(link).unwrap().target
    }

    #[test]
    fn tel_drops_visual_separators_and_keeps_the_plus() {
        assert_eq!(target("tel:+86-10-1234-5678"), "+861012345678");
        assert_eq!(target("tel:+1 (555) 010.0199"), "+15550100199");
        assert_eq!(target("TEL:10086"), "10086");
        assert_eq!(target("tel:%2B86%2010%2012345678"), "+861012345678");
        assert_eq!(target("  tel:*21#  "), "*21#");
        assert_eq!(target("callto:+44 20 7946 0000"), "+442079460000");
    }

    #[test]
    fn tel_phone_context_makes_a_local_number_global_or_keeps_it_local() {
        assert_eq!(target("tel:1234;phone-context=+86-10"), "+86101234");
        assert_eq!(target("tel:7042;phone-context=example.com"), "7042");
        assert_eq!(target("tel:+8610123;phone-context=+1"), "+8610123");
        assert_eq!(
            target("tel:555-0199;ext=12;phone-context=+1-212"),
            "+12125550199"
        );
        assert!(matches!(
            parse_dial_link("tel:1234;phone-context=+"),
            Err(LinkError::BadContext(_))
        ));
        assert!(matches!(
            parse_dial_link("tel:1234;phone-context=bad/ctx"),
            Err(LinkError::BadContext(_))
        ));
    }

    #[test]
    fn sip_keeps_user_host_and_port_and_drops_parameters() {
        assert_eq!(target("sip:alice@Example.COM"), "sip:alice@example.com");
        assert_eq!(
            target("sip:+8610123@pbx.example.com:5070;transport=tcp?subject=hi"),
            "sip:+8610123@pbx.example.com:5070"
        );
        assert_eq!(
            target("sips:bob@[2001:db8::1]:5061"),
            "sips:bob@[2001:db8::1]:5061"
        );
        assert_eq!(target("sip:pbx.example.com"), "sip:pbx.example.com");
        assert!(matches!(
            parse_dial_link("sip:alice%40home@example.com"),
            Err(LinkError::BadSipAddress(_))
        ));
        let link = parse_dial_link("sips:bob@example.com").unwrap();
        assert_eq!(link.scheme, LinkScheme::Sips);
    }

    #[test]
    fn junk_is_refused_with_a_clear_error() {
        assert_eq!(
            parse_dial_link("https://example.com"),
            Err(LinkError::UnknownScheme)
        );
        assert_eq!(parse_dial_link("12345"), Err(LinkError::UnknownScheme));
        assert_eq!(parse_dial_link("tel:"), Err(LinkError::Empty));
        assert_eq!(parse_dial_link("tel:--"), Err(LinkError::NoDigits));
        assert_eq!(
            parse_dial_link("tel:12a4"),
            Err(LinkError::BadCharacter('a'))
        );
        assert_eq!(
            parse_dial_link("tel:+12*4"),
            Err(LinkError::BadCharacter('*'))
        );
        assert_eq!(parse_dial_link("tel:%zz"), Err(LinkError::BadEscape));
        assert_eq!(
            parse_dial_link(&format!("tel:{}", "1".repeat(40))),
            Err(LinkError::TooManyDigits)
        );
        assert_eq!(
            parse_dial_link(&format!("tel:{}", "1".repeat(3000))),
            Err(LinkError::TooLong)
        );
        assert!(matches!(
            parse_dial_link("sip:@example.com"),
            Err(LinkError::BadSipAddress(_))
        ));
        assert!(
            matches!(parse_dial_link("sip:bob:secret@example.com"), Err(LinkError::BadSipAddress(m)) if m.contains("password"))
        );
        assert!(matches!(
            parse_dial_link("sip:bob@exa mple.com"),
            Err(LinkError::BadSipAddress(_))
        ));
        assert!(matches!(
            parse_dial_link("sip:bob@example.com:99999"),
            Err(LinkError::BadSipAddress(_))
        ));
        assert!(matches!(
            parse_dial_link("sip:bob@-bad.com"),
            Err(LinkError::BadSipAddress(_))
        ));
        let message = parse_dial_link("mailto:x@y").unwrap_err().to_string();
        assert!(message.contains("tel:, sip: or sips:"), "{message}");
    }

    #[test]
    fn a_second_launch_hands_over_its_link() {
        let args = [
            "seatline-desktop",
            "--data-dir",
            "/tmp/x",
            "tel:+86 10 1234",
        ];
        let link = dial_link_in_args(&args).unwrap().unwrap();
        assert_eq!(link.target, "+86101234");
        assert!(dial_link_in_args(&["seatline-desktop", "--data-dir", "/tmp/x"]).is_none());
        // The program name is never taken for a link.
        assert!(dial_link_in_args(&["tel:1"]).is_none());
        assert_eq!(link_argument(&["app", "-v", "sip:x y"]), Some("sip:x y"));
        assert_eq!(
            dial_link_in_args(&["app", "sip:"]),
            Some(Err(LinkError::Empty))
        );
    }

    proptest! {
        #[test]
        fn any_input_parses_or_fails_without_panicking(input in "\\PC{0,80}") {
            let _ = parse_dial_link(&input);
        }

        #[test]
        fn any_tel_suffix_parses_or_fails_without_panicking(input in "[0-9+*#();=.%a-fA-F -]{0,60}") {
            if let Ok(link) = parse_dial_link(&format!("tel:{input}")) {
                // What the phone dials is only digits, *, # and a leading +.
                prop_assert!(link.target.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || c == '*' || c == '#' || (i == 0 && c == '+')));
            }
        }

        #[test]
        fn any_sip_suffix_parses_or_fails_without_panicking(input in "[a-zA-Z0-9@:;?.%\\[\\]=-]{0,60}") {
            if let Ok(link) = parse_dial_link(&format!("sip:{input}")) {
                prop_assert!(link.target.starts_with("sip:"));
                prop_assert!(!link.target.contains([';', '?']));
            }
        }
    }
}
