//! The center's playbook: the wrap-up codes agents close calls with, the Not-ready reasons they
//! may give, the scripted phrases they insert into notes, and the after-call-work time box.
//!
//! Supervisors maintain it on the server (`GET/PUT /api/v1/playbook`); desktops keep the last
//! copy they pulled so the lists work offline. One document with one revision: it is edited as
//! a whole and a stale edit is refused, not merged.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

/// At most this many wrap-up codes, and as many Not-ready reasons.
pub const MAX_CODES: usize = 50;
/// At most this many phrases.
pub const MAX_PHRASES: usize = 300;
/// Longest code (`resolved`, `lunch`, …).
pub const MAX_CODE_CHARS: usize = 40;
/// Longest label of a code.
pub const MAX_LABEL_CHARS: usize = 80;
/// Longest phrase.
pub const MAX_PHRASE_CHARS: usize = 500;
/// The after-call-work time box, when there is one, in seconds.
pub const ACW_LIMIT_SECONDS: RangeInclusive<u32> = 10..=3600;
/// The languages labels and phrases may be written in (the desktop's UI languages).
pub const LANGUAGES: &[&str] = &["en", "zh-CN", "zh-TW"];
/// The Not-ready reason a session starts with; the desktop sets it, agents do not pick it.
pub const LOGIN_REASON: &str = "login";

/// The whole playbook of a center (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// The server's revision: 0 for the built-in default, then +1 per saved edit. An edit
    /// carries the revision it was made from and is refused when another came first.
    #[serde(default)]
    pub revision: i64,
    /// Codes an agent closes a call with, in the order the list shows them.
    pub wrap_up_codes: Vec<WrapUpCode>,
    /// Reasons an agent may give for Not ready, in order.
    pub not_ready_reasons: Vec<CodeLabel>,
    /// Scripted phrases for notes.
    #[serde(default)]
    pub phrases: Vec<Phrase>,
    /// Whether a call is followed by after-call work (wrap-up time).
    #[serde(default = "yes")]
    pub after_call_work: bool,
    /// The after-call-work time box in seconds; `None`: no limit.
    #[serde(default)]
    pub after_call_work_limit_s: Option<u32>,
}

fn yes() -> bool {
    true
}

/// A code with its labels per language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeLabel {
    pub code: String,
    /// Language tag (one of [`LANGUAGES`]) → label.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A wrap-up code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapUpCode {
    pub code: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Closing a call with this code promises the customer a callback: the wrap-up form asks
    /// when, and a callback work order is created.
    #[serde(default)]
    pub promises_callback: bool,
}

/// Where in a call a phrase is used; the quick-insert list groups by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Greeting,
    Verification,
    Hold,
    Transfer,
    Apology,
    Closing,
    Other,
}

/// One scripted phrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phrase {
    pub category: Category,
    /// Language tag (one of [`LANGUAGES`]).
    pub lang: String,
    pub text: String,
}

/// A playbook that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the playbook is not valid: {}", problems.join("; "))]
pub struct PlaybookError {
    pub problems: Vec<String>,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(lang, text)| ((*lang).to_owned(), (*text).to_owned()))
        .collect()
}

impl Default for Playbook {
    /// The built-in playbook a center starts with until a supervisor saves its own.
    fn default() -> Self {
        let code = |code: &str, en: &str, zh: &str| WrapUpCode {
            code: code.into(),
            labels: labels(&[("en", en), ("zh-CN", zh)]),
            promises_callback: code == "callback_promised",
        };
        let reason = |code: &str, en: &str, zh: &str| CodeLabel {
            code: code.into(),
            labels: labels(&[("en", en), ("zh-CN", zh)]),
        };
        let phrase = |category, lang: &str, text: &str| Phrase {
            category,
            lang: lang.into(),
            text: text.into(),
        };
        use Category::*;
        Self {
            revision: 0,
            wrap_up_codes: vec![
                code("resolved", "Resolved on the call", "通话中已解决"),
                code("information", "Information given", "已提供信息"),
                code("complaint_logged", "Complaint logged", "已登记投诉"),
                code("repair_logged", "Repair logged", "已登记报修"),
                code("callback_promised", "Callback promised", "已承诺回电"),
                code("transferred", "Transferred", "已转接"),
                code("wrong_number", "Wrong number", "打错电话"),
                code("other", "Other", "其他"),
            ],
            not_ready_reasons: vec![
                reason("break", "Break", "小休"),
                reason("lunch", "Lunch", "用餐"),
                reason("meeting", "Meeting", "会议"),
                reason("training", "Training", "培训"),
                reason("outbound", "Outbound work", "外呼工作"),
            ],
            phrases: vec![
                phrase(Greeting, "en", "Thank you for calling, this is {agent}. How may I help you?"),
                phrase(Greeting, "zh-CN", "您好，很高兴为您服务，我是{agent}，请问有什么可以帮您？"),
                phrase(Verification, "en", "For your security, may I have the account holder's name and the last four digits of the ID?"),
                phrase(Verification, "zh-CN", "为了您的账户安全，请提供机主姓名和证件号码后四位。"),
                phrase(Hold, "en", "May I put you on hold for a moment while I check this?"),
                phrase(Hold, "zh-CN", "请您稍等，我帮您查询一下。"),
                phrase(Transfer, "en", "I will transfer you to a colleague who can help with this; please stay on the line."),
                phrase(Transfer, "zh-CN", "我为您转接到相关同事处理，请不要挂机。"),
                phrase(Apology, "en", "I am sorry for the trouble this has caused you."),
                phrase(Apology, "zh-CN", "非常抱歉给您带来不便。"),
                phrase(Closing, "en", "Is there anything else I can help you with? Thank you for calling, goodbye."),
                phrase(Closing, "zh-CN", "请问还有其他可以帮您的吗？感谢您的来电，再见。"),
            ],
            after_call_work: true,
            after_call_work_limit_s: Some(120),
        }
    }
}

fn check_code(what: &str, code: &str, problems: &mut Vec<String>) {
    let chars = code.chars().count();
    if chars == 0 || chars > MAX_CODE_CHARS {
        problems.push(format!(
            "{what} {code:?} must have 1 to {MAX_CODE_CHARS} characters"
        ));
    } else if !code
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        problems.push(format!(
            "{what} {code:?} may only use a-z, 0-9, '_' and '-' (it is stored in the call log; the labels carry the words)"
        ));
    }
}

fn check_text(what: &str, text: &str, max: usize, problems: &mut Vec<String>) {
    if text.trim().is_empty() {
        problems.push(format!("{what} is empty"));
    } else if text.chars().count() > max {
        problems.push(format!("{what} is longer than {max} characters"));
    } else if text.chars().any(char::is_control) {
        problems.push(format!("{what} contains control characters"));
    }
}

fn check_lang(what: &str, lang: &str, problems: &mut Vec<String>) {
    if !LANGUAGES.contains(&lang) {
        problems.push(format!(
            "{what}: language {lang:?} is not one of {}",
            LANGUAGES.join(", ")
        ));
    }
}

fn check_labels(
    what: &str,
    code: &str,
    labels: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    for (lang, label) in labels {
        check_lang(&format!("{what} {code:?}"), lang, problems);
        check_text(
            &format!("the {lang} label of {what} {code:?}"),
            label,
            MAX_LABEL_CHARS,
            problems,
        );
    }
}

impl Playbook {
    /// Every problem that keeps this playbook from being used, or `Ok`.
    pub fn validate(&self) -> Result<(), PlaybookError> {
        let mut problems = Vec::new();
        if self.wrap_up_codes.is_empty() {
            problems.push("at least one wrap-up code is needed (wrap-up requires one)".into());
        }
        if self.wrap_up_codes.len() > MAX_CODES {
            problems.push(format!("more than {MAX_CODES} wrap-up codes"));
        }
        if self.not_ready_reasons.len() > MAX_CODES {
            problems.push(format!("more than {MAX_CODES} Not-ready reasons"));
        }
        if self.phrases.len() > MAX_PHRASES {
            problems.push(format!("more than {MAX_PHRASES} phrases"));
        }
        let mut seen = BTreeSet::new();
        for code in &self.wrap_up_codes {
            check_code("wrap-up code", &code.code, &mut problems);
            check_labels("wrap-up code", &code.code, &code.labels, &mut problems);
            if !seen.insert(code.code.as_str()) {
                problems.push(format!("wrap-up code {:?} appears twice", code.code));
            }
        }
        let mut seen = BTreeSet::new();
        for reason in &self.not_ready_reasons {
            check_code("Not-ready reason", &reason.code, &mut problems);
            check_labels(
                "Not-ready reason",
                &reason.code,
                &reason.labels,
                &mut problems,
            );
            if reason.code == LOGIN_REASON {
                problems.push(format!(
                    "Not-ready reason {LOGIN_REASON:?} is reserved for the start of a session"
                ));
            }
            if !seen.insert(reason.code.as_str()) {
                problems.push(format!("Not-ready reason {:?} appears twice", reason.code));
            }
        }
        for (n, phrase) in self.phrases.iter().enumerate() {
            let what = format!("phrase {}", n + 1);
            check_lang(&what, &phrase.lang, &mut problems);
            check_text(&what, &phrase.text, MAX_PHRASE_CHARS, &mut problems);
        }
        if let Some(limit) = self.after_call_work_limit_s {
            if !ACW_LIMIT_SECONDS.contains(&limit) {
                problems.push(format!(
                    "the after-call-work time box must be {} to {} seconds, or none",
                    ACW_LIMIT_SECONDS.start(),
                    ACW_LIMIT_SECONDS.end()
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PlaybookError { problems })
        }
    }

    /// The wrap-up code named `code`, if the center has it.
    pub fn wrap_up_code(&self, code: &str) -> Option<&WrapUpCode> {
        self.wrap_up_codes.iter().find(|c| c.code == code)
    }

    /// The Not-ready reason codes, in order.
    pub fn reason_codes(&self) -> Vec<String> {
        self.not_ready_reasons
            .iter()
            .map(|r| r.code.clone())
            .collect()
    }

    /// The phrases to offer in `lang`: those written in it; when there are none, those of the
    /// nearest language (zh-TW ↔ zh-CN, then English), so a center that wrote only one set still
    /// has a list.
    pub fn phrases_for(&self, lang: &str) -> Vec<&Phrase> {
        fallbacks(lang)
            .into_iter()
            .map(|l| {
                self.phrases
                    .iter()
                    .filter(|p| p.lang == l)
                    .collect::<Vec<_>>()
            })
            .find(|list| !list.is_empty())
            .unwrap_or_default()
    }
}

/// `lang` first, then the other Chinese script, then English.
fn fallbacks(lang: &str) -> Vec<&str> {
    let mut order = vec![lang];
    match lang {
        "zh-CN" => order.push("zh-TW"),
        "zh-TW" => order.push("zh-CN"),
        _ => {}
    }
    order.push("en");
    order
}

/// The label of a code in `lang`, falling back like [`Playbook::phrases_for`] and finally to
/// the code itself.
pub fn label<'a>(labels: &'a BTreeMap<String, String>, code: &'a str, lang: &str) -> &'a str {
    fallbacks(lang)
        .into_iter()
        .find_map(|l| labels.get(l))
        .map_or(code, String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_playbook_is_valid_and_matches_the_codes_desktops_used_before() {
        let book = Playbook::default();
        assert_eq!(book.validate(), Ok(()));
        assert_eq!(book.revision, 0);
        assert!(book.wrap_up_code("resolved").is_some());
        assert!(book
            .wrap_up_code("callback_promised")
            .is_some_and(|c| c.promises_callback));
        assert!(!book
            .wrap_up_code("resolved")
            .is_some_and(|c| c.promises_callback));
        assert_eq!(
            book.reason_codes(),
            ["break", "lunch", "meeting", "training", "outbound"]
        );
        assert_eq!(book.after_call_work_limit_s, Some(120));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut book = Playbook::default();
        book.wrap_up_codes[1].code = "resolved".into();
        book.wrap_up_codes[2].code = "Complaint Logged".into();
        book.wrap_up_codes[3]
            .labels
            .insert("fr".into(), "Réparation".into());
        book.not_ready_reasons.push(CodeLabel {
            code: "login".into(),
            labels: BTreeMap::new(),
        });
        book.phrases[0].text = "bad\u{0007}bell".into();
        book.phrases[1].text = "x".repeat(MAX_PHRASE_CHARS + 1);
        book.after_call_work_limit_s = Some(5);
        let problems = book.validate().unwrap_err().problems;
        let text = problems.join("\n");
        for expected in [
            "wrap-up code \"resolved\" appears twice",
            "\"Complaint Logged\" may only use a-z",
            "language \"fr\" is not one of",
            "\"login\" is reserved",
            "phrase 1 contains control characters",
            "phrase 2 is longer than 500 characters",
            "10 to 3600 seconds",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert_eq!(problems.len(), 7, "{text}");
    }

    #[test]
    fn a_playbook_needs_a_wrap_up_code() {
        let book = Playbook {
            wrap_up_codes: vec![],
            ..Playbook::default()
        };
        let error = book.validate().unwrap_err();
        assert!(error.to_string().contains("at least one wrap-up code"));
    }

    #[test]
    fn labels_fall_back_to_the_other_script_then_english_then_the_code() {
        let book = Playbook::default();
        let lunch = &book.not_ready_reasons[1];
        assert_eq!(label(&lunch.labels, &lunch.code, "zh-CN"), "用餐");
        assert_eq!(label(&lunch.labels, &lunch.code, "zh-TW"), "用餐");
        assert_eq!(label(&lunch.labels, &lunch.code, "en"), "Lunch");
        assert_eq!(label(&BTreeMap::new(), "lunch", "zh-CN"), "lunch");
    }

    #[test]
    fn phrases_follow_the_language_with_a_fallback() {
        let mut book = Playbook::default();
        assert!(book.phrases_for("zh-CN").iter().all(|p| p.lang == "zh-CN"));
        assert_eq!(book.phrases_for("zh-CN").len(), 6);
        // No traditional set written: the simplified one is offered.
        assert!(book.phrases_for("zh-TW").iter().all(|p| p.lang == "zh-CN"));
        book.phrases.retain(|p| p.lang == "en");
        assert_eq!(book.phrases_for("zh-CN").len(), 6);
        assert!(book.phrases_for("zh-CN").iter().all(|p| p.lang == "en"));
        book.phrases.clear();
        assert!(book.phrases_for("en").is_empty());
    }

    #[test]
    fn json_round_trip_and_unknown_fields_refused() {
        let book = Playbook::default();
        let json = serde_json::to_string(&book).unwrap();
        assert_eq!(serde_json::from_str::<Playbook>(&json).unwrap(), book);
        let minimal: Playbook =
            serde_json::from_str(r#"{"wrap_up_codes":[{"code":"done"}],"not_ready_reasons":[]}"#)
                .unwrap();
        assert!(minimal.after_call_work);
        assert_eq!(minimal.after_call_work_limit_s, None);
        assert_eq!(minimal.validate(), Ok(()));
        let typo = serde_json::from_str::<Playbook>(
            r#"{"wrap_up_codes":[],"not_ready_reasons":[],"after_call_work_limit":60}"#,
        );
        assert!(typo.is_err());
    }

    proptest::proptest! {
        // Whatever a client sends, validation answers (never panics) and an accepted playbook
        // survives a JSON round trip unchanged.
        #[test]
        fn validation_never_panics(codes in proptest::collection::vec("\\PC{0,50}", 0..8),
                                   phrase in "\\PC{0,600}", limit in proptest::option::of(0u32..5000)) {
            let book = Playbook {
                revision: 1,
                wrap_up_codes: codes.iter().map(|c| WrapUpCode { code: c.clone(), labels: BTreeMap::new(), promises_callback: false }).collect(),
                not_ready_reasons: vec![],
                phrases: vec![Phrase { category: Category::Other, lang: "en".into(), text: phrase }],
                after_call_work: true,
                after_call_work_limit_s: limit,
            };
            if book.validate().is_ok() {
                let json = serde_json::to_string(&book).unwrap();
                proptest::prop_assert_eq!(serde_json::from_str::<Playbook>(&json).unwrap(), book);
            }
        }
    }
}
