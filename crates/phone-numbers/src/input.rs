//! Turning what the softphone, the PBX or a CRM row hands over into bare digits.
//!
//! This layer is deliberately strict and does its own work instead of relying on the
//! `phonenumber` parser's lenient extraction: that parser maps letters to keypad digits
//! (`1-800-FLOWERS`) and silently skips leading junk, which for caller ID would turn garbage into
//! a plausible-looking number and match the wrong customer.

use crate::error::NumberError;

/// Words PBXs, carriers and softphones use instead of a number when the caller withheld it.
/// Compared after ASCII lower-casing and trimming.
const WITHHELD: &[&str] = &[
    "",
    "anonymous",
    "unknown",
    "private",
    "restricted",
    "withheld",
    "unavailable",
    "private number",
    "unknown number",
    "anonymous number",
    "number withheld",
    "匿名",
    "未知",
    "未知号码",
    "隐藏号码",
    "私人号码",
];

/// Extension markers, ASCII lower case. `,` is a dial pause, `#` ends the main number on many
/// IVRs, `转` / `分机` are how Chinese CRMs write "extension".
const EXTENSION_MARKERS: &[&str] = &[
    "extension",
    "extn",
    "ext",
    "x",
    "分机号",
    "分机",
    "转",
    "#",
    ",",
];

/// Punctuation allowed between digits of the main number.
const SEPARATORS: &[char] = &[' ', '-', '.', '(', ')', '/', '[', ']'];

/// The digits of a number, with everything else stripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cleaned {
    /// The number was written in international form (`+` or a `+` phone-context).
    pub plus: bool,
    /// ASCII digits only, never empty.
    pub digits: String,
    /// Extension digits, if any.
    pub extension: Option<String>,
}

/// Strips URI syntax, display names, formatting and extensions.
pub(crate) fn clean(input: &str) -> Result<Cleaned, NumberError> {
    let folded = fold_width(input);
    let trimmed = folded.trim();
    if is_withheld_word(trimmed) {
        return Err(withheld(input));
    }

    let unwrapped = strip_display_name(trimmed);
    let (body, mut extension) = match split_uri(unwrapped) {
        Some(uri) => (uri.number, uri.extension),
        None => (unwrapped.to_owned(), None),
    };
    let body = body.trim();
    if is_withheld_word(body) {
        return Err(withheld(input));
    }

    let (main, body_extension) = split_extension(body, input)?;
    if extension.is_none() {
        extension = body_extension;
    }

    let mut plus = false;
    let mut digits = String::with_capacity(main.len());
    for c in main.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if c == '+' && !plus && digits.is_empty() {
            plus = true;
        } else if !SEPARATORS.contains(&c) {
            return Err(NumberError::InvalidCharacter {
                input: input.to_owned(),
                found: c,
            });
        }
    }
    if digits.is_empty() {
        return Err(NumberError::NoDigits {
            input: input.to_owned(),
        });
    }
    Ok(Cleaned {
        plus,
        digits,
        extension,
    })
}

fn withheld(input: &str) -> NumberError {
    NumberError::Withheld {
        input: input.to_owned(),
    }
}

fn is_withheld_word(s: &str) -> bool {
    let lower = s.trim().trim_matches('"').trim().to_ascii_lowercase();
    WITHHELD.contains(&lower.as_str())
}

/// Full-width forms (`＋８６１３８…`, common from Chinese IMEs and Excel exports) become ASCII,
/// exotic spaces and dashes become plain ones, zero-width characters disappear.
fn fold_width(input: &str) -> String {
    input
        .chars()
        .filter_map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0),
            '\u{3000}' | '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\t' => Some(' '),
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' => Some('-'),
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => None,
            _ => Some(c),
        })
        .collect()
}

/// `"Zhang San" <sip:1001@pbx>` → `sip:1001@pbx`; a bare quoted string loses its quotes.
fn strip_display_name(s: &str) -> &str {
    if let Some(open) = s.find('<') {
        let inner = &s[open + 1..];
        if let Some(close) = inner.find('>') {
            return inner[..close].trim();
        }
    }
    s.trim_matches('"').trim()
}

struct UriNumber {
    number: String,
    extension: Option<String>,
}

/// `sip:`, `sips:` and `tel:` URIs: the user part (SIP) or the number (TEL), with the `ext` and
/// `phone-context` parameters applied. Host, port, URI parameters and headers are dropped.
fn split_uri(s: &str) -> Option<UriNumber> {
    let colon = s.find(':')?;
    let scheme = s[..colon].to_ascii_lowercase();
    let rest = &s[colon + 1..];
    let user = match scheme.as_str() {
        "sip" | "sips" => {
            let user = match rest.find('@') {
                Some(at) => &rest[..at],
                None => rest.split(['?', ';']).next().unwrap_or(rest),
            };
            // `user:password@host`
            let user = user.split(':').next().unwrap_or(user);
            percent_decode(user)
        }
        "tel" => percent_decode(rest),
        _ => return None,
    };

    let mut parts = user.split(';');
    let mut number = parts.next().unwrap_or("").trim().to_owned();
    let mut extension = None;
    let mut context = None;
    for param in parts {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "ext" => extension = Some(value.trim().to_owned()),
            "phone-context" => context = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    // RFC 3966 local number with a global context: `tel:12345678;phone-context=+86-10`.
    if let Some(context) = context.filter(|c| c.starts_with('+')) {
        if !number.starts_with('+') {
            number = format!("{context}{number}");
        }
    }
    let extension = extension.filter(|e| !e.is_empty());
    Some(UriNumber { number, extension })
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `main ext 123` at the earliest extension marker. A marker with nothing after it
/// (`13800138000#`, a trailing pause) is dropped; anything but digits after it is an error.
fn split_extension<'a>(
    body: &'a str,
    input: &str,
) -> Result<(&'a str, Option<String>), NumberError> {
    let lower = body.to_ascii_lowercase();
    let mut best: Option<(usize, usize)> = None;
    for marker in EXTENSION_MARKERS {
        if let Some(idx) = lower.find(marker) {
            let better = match best {
                None => true,
                Some((b_idx, b_len)) => idx < b_idx || (idx == b_idx && marker.len() > b_len),
            };
            if better {
                best = Some((idx, marker.len()));
            }
        }
    }
    let Some((idx, len)) = best else {
        return Ok((body, None));
    };

    let raw = body[idx + len..]
        .trim_start_matches([' ', '.', ':', '=', ',', '#', '-'])
        .trim_end_matches([' ', '#', ',']);
    let mut extension = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_digit() {
            extension.push(c);
        } else if c != ' ' && c != '-' {
            return Err(NumberError::InvalidExtension {
                input: input.to_owned(),
            });
        }
    }
    let extension = (!extension.is_empty()).then_some(extension);
    Ok((&body[..idx], extension))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> Cleaned {
        match clean(input) {
            Ok(c) => c,
            Err(e) => panic!("{input:?}: {e}"),
        }
    }

    #[test]
    fn full_width_digits_and_plus_fold_to_ascii() {
        let c = ok("＋８６　１３８－００１３－８０００");
        assert!(c.plus);
        assert_eq!(c.digits, "8613800138000");
    }

    #[test]
    fn display_name_and_sip_user_part() {
        let c = ok("\"Zhang San\" <sip:1001@pbx>");
        assert_eq!(c.digits, "1001");
        assert!(!c.plus);
    }

    #[test]
    fn percent_encoded_plus_in_sip_user() {
        let c = ok("sip:%2B8613800138000@pbx.example.com");
        assert!(c.plus);
        assert_eq!(c.digits, "8613800138000");
    }

    #[test]
    fn tel_phone_context_makes_local_number_global() {
        let c = ok("tel:12345678;phone-context=+86-10");
        assert!(c.plus);
        assert_eq!(c.digits, "861012345678");
    }

    #[test]
    fn trailing_hash_and_pause_are_not_extensions() {
        assert_eq!(ok("13800138000#").extension, None);
        assert_eq!(ok("13800138000,").extension, None);
        assert_eq!(ok("13800138000,,123").extension.as_deref(), Some("123"));
    }

    #[test]
    fn letters_after_extension_marker_are_rejected() {
        assert_eq!(
            clean("010-12345678 ext abc"),
            Err(NumberError::InvalidExtension {
                input: "010-12345678 ext abc".into()
            })
        );
    }

    #[test]
    fn second_plus_is_rejected() {
        assert!(matches!(
            clean("+86+138"),
            Err(NumberError::InvalidCharacter { found: '+', .. })
        ));
    }

    #[test]
    fn withheld_words_in_any_case_and_inside_sip() {
        for w in [
            "Anonymous",
            "UNKNOWN",
            "  ",
            "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
        ] {
            assert!(
                matches!(clean(w), Err(NumberError::Withheld { .. })),
                "{w:?}"
            );
        }
    }
}
