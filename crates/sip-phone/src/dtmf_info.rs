//! DTMF over SIP INFO: the fallback when the far end did not agree on RFC 4733 events.
//! Bodies: `application/dtmf-relay` (`Signal=5\r\nDuration=160`) and `application/dtmf` (`5`).

/// RFC 4733 event code of a DTMF character, `None` for anything else.
pub fn event_code(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(c as u8 - b'A' + 12),
        'a'..='d' => Some(c as u8 - b'a' + 12),
        _ => None,
    }
}

/// The `application/dtmf-relay` body for one digit.
pub fn relay_body(digit: char, duration_ms: u32) -> String {
    format!("Signal={digit}\r\nDuration={duration_ms}\r\n")
}

/// The digit an INFO request carries, if its content type is a DTMF one and the body is sane.
pub fn parse_info_body(headers: &[(String, String)], body: &[u8]) -> Option<char> {
    let content_type = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Type") || n == "c")
        .map(|(_, v)| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })?;
    let text = std::str::from_utf8(body).ok()?;
    let raw = match content_type.as_str() {
        "application/dtmf-relay" => text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| v.trim().to_string())
        })?,
        "application/dtmf" => text.trim().to_string(),
        _ => return None,
    };
    // Some gateways send the event number ("10" for '*', "11" for '#').
    let digit = match raw.as_str() {
        "10" => '*',
        "11" => '#',
        s if s.chars().count() == 1 => s.chars().next()?,
        _ => return None,
    };
    event_code(digit).map(|_| digit.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(v: &str) -> Vec<(String, String)> {
        vec![("Content-Type".into(), v.into())]
    }

    #[test]
    fn parses_both_body_kinds() {
        assert_eq!(
            parse_info_body(
                &ct("application/dtmf-relay"),
                b"Signal=5\r\nDuration=160\r\n"
            ),
            Some('5')
        );
        assert_eq!(
            parse_info_body(&ct("application/dtmf-relay"), b"Signal= #\n"),
            Some('#')
        );
        assert_eq!(
            parse_info_body(&ct("application/dtmf-relay"), b"Signal=11\n"),
            Some('#')
        );
        assert_eq!(parse_info_body(&ct("application/dtmf"), b"a"), Some('A'));
        assert_eq!(
            parse_info_body(&ct("application/dtmf-relay"), b"Signal=X"),
            None
        );
        assert_eq!(parse_info_body(&ct("text/plain"), b"5"), None);
        assert_eq!(parse_info_body(&[], b"5"), None);
        assert_eq!(
            parse_info_body(&ct("application/dtmf"), &[0xff, 0xfe]),
            None
        );
    }

    #[test]
    fn relay_body_round_trips() {
        for d in "0123456789*#ABCD".chars() {
            assert_eq!(
                parse_info_body(&ct("application/dtmf-relay"), relay_body(d, 100).as_bytes()),
                Some(d)
            );
        }
        assert_eq!(event_code('x'), None);
    }
}
