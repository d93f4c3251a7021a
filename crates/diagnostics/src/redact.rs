//! Removes secrets from text before it leaves the machine: every known secret value (the SIP
//! password and server token from the keychain), values of secret-looking keys
//! (`password=…`, `"token": "…"`, `Authorization: …`), bearer tokens and passwords in URLs.

use regex::Regex;

pub const REDACTED: &str = "[REDACTED]";

/// Known secrets shorter than this are not searched for (they would match ordinary text).
const MIN_SECRET_LEN: usize = 4;

pub struct Redactor {
    known: Vec<String>,
    rules: Vec<Regex>,
}

impl Redactor {
    /// A redactor that also removes every value in `known_secrets`.
    pub fn new<I, S>(known_secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut known: Vec<String> = known_secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| s.chars().count() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so a secret containing another is removed whole.
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        known.dedup();
        let patterns = [
            // key = value / key: value / "key": "value" (TOML, JSON, logs, headers).
            r#"(?i)((?:password|passwd|pwd|secret|token|authorization|api[_-]?key|cookie|credential)[a-z0-9_-]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}]+(?:\s+[^\s,;&"'}]+)?)"#,
            // Bearer / Basic credentials anywhere.
            r"(?i)(\b(?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]{4,})",
            // user:password@ in URLs.
            r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)",
        ];
        let rules = patterns.iter().filter_map(|p| Regex::new(p).ok()).collect();
        Self { known, rules }
    }

    /// `text` with every secret replaced by `[REDACTED]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.known {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        for rule in &self.rules {
            out = rule
                .replace_all(&out, |caps: &regex::Captures<'_>| {
                    let prefix = caps.get(1).map_or("", |m| m.as_str());
                    let suffix = caps.get(3).map_or("", |m| m.as_str());
                    let value = caps.get(2).map_or("", |m| m.as_str());
                    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
                    match quote {
                        Some(q) => format!("{prefix}{q}{REDACTED}{q}{suffix}"),
                        None => format!("{prefix}{REDACTED}{suffix}"),
                    }
                })
                .into_owned();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_are_removed_wherever_they_appear() {
        let r = Redactor::new(["hunter2-sip", "tok_ABC123"]);
        let out = r.redact("registering with hunter2-sip; token in body tok_ABC123 end");
        assert!(
            !out.contains("hunter2-sip") && !out.contains("tok_ABC123"),
            "{out}"
        );
        // Too short to search for safely.
        assert_eq!(Redactor::new(["ab"]).redact("about"), "about");
    }

    #[test]
    fn secret_looking_keys_lose_their_values() {
        let r = Redactor::new(Vec::<String>::new());
        let cases = [
            ("password=s3cret next", "s3cret"),
            ("sip_password = \"s3cret\"", "s3cret"),
            ("{\"token\": \"eyJabc.def\", \"x\": 1}", "eyJabc.def"),
            ("Authorization: Bearer abcdef123456", "abcdef123456"),
            ("api-key: k-998877", "k-998877"),
            ("refresh_token='zzz999'", "zzz999"),
            (
                "connect https://agent:pa55w0rd@pbx.example.com/x",
                "pa55w0rd",
            ),
            ("header basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ];
        for (input, secret) in cases {
            let out = r.redact(input);
            assert!(!out.contains(secret), "{input:?} -> {out:?}");
            assert!(out.contains(REDACTED), "{input:?} -> {out:?}");
        }
        // Ordinary text stays.
        let plain = "call c1 answered after 3 s; tokens of appreciation";
        assert_eq!(r.redact(plain), plain);
    }
}
