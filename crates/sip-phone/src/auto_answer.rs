//! Whether the PBX asked us to answer by itself (intercom, call-center queues), and after how
//! long. Sans-IO over header pairs.
//!
//! Forms seen in the field:
//! - `Call-Info: <sip:pbx>;answer-after=0` (Polycom/Yealink style; Asterisk `Page()`, FreeSWITCH)
//! - `Answer-Mode: Auto` (RFC 5373; `Auto;require` too)
//! - `Alert-Info: <http://x>;info=alert-autoanswer` and `Alert-Info: Auto Answer` (Cisco/Snom)

use std::time::Duration;

/// The delay the INVITE asks for before answering, or `None` if it does not ask.
pub fn requested_auto_answer(headers: &[(String, String)]) -> Option<Duration> {
    let mut best: Option<Duration> = None;
    let mut take = |d: Duration| {
        best = Some(best.map_or(d, |b| b.min(d)));
    };
    for (name, value) in headers {
        let lower = value.to_ascii_lowercase();
        if name.eq_ignore_ascii_case("Call-Info") {
            for param in lower.split(';').skip(1) {
                if let Some(v) = param.trim().strip_prefix("answer-after=") {
                    if let Ok(secs) = v.trim().trim_matches('"').parse::<u64>() {
                        // Cap absurd values: an hour of ringing is not auto-answer.
                        take(Duration::from_secs(secs.min(3600)));
                    }
                }
            }
        } else if name.eq_ignore_ascii_case("Answer-Mode") {
            if lower.split(';').next().map(str::trim) == Some("auto") {
                take(Duration::ZERO);
            }
        } else if name.eq_ignore_ascii_case("Alert-Info")
            && (lower.contains("info=alert-autoanswer")
                || lower.contains("auto answer")
                || lower.contains("answer-after=0")
                || lower.contains("info=intercom"))
        {
            take(Duration::ZERO);
        }
    }
    best
}

/// What to do with a new incoming call: the account's own setting (queue agents) or the PBX's
/// request; the account delay applies when the PBX did not ask.
pub fn auto_answer_delay(
    headers: &[(String, String)],
    account_auto_answer: Option<Duration>,
    honour_pbx_request: bool,
) -> Option<Duration> {
    let requested = honour_pbx_request
        .then(|| requested_auto_answer(headers))
        .flatten();
    match (requested, account_auto_answer) {
        (Some(r), Some(a)) => Some(r.min(a)),
        (r, a) => r.or(a),
    }
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
    fn recognises_every_form() {
        assert_eq!(
            requested_auto_answer(&h(&[("Call-Info", "<sip:pbx>;answer-after=3")])),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            requested_auto_answer(&h(&[("call-info", "<sip:pbx>;Answer-After=0")])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            requested_auto_answer(&h(&[("Answer-Mode", "Auto;require")])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            requested_auto_answer(&h(&[("Answer-Mode", "Manual")])),
            None
        );
        assert_eq!(
            requested_auto_answer(&h(&[("Alert-Info", "<http://x>;info=alert-autoanswer")])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            requested_auto_answer(&h(&[("Call-Info", "<sip:pbx>;purpose=icon")])),
            None
        );
        assert_eq!(
            requested_auto_answer(&h(&[("Call-Info", "<sip:pbx>;answer-after=banana")])),
            None
        );
    }

    #[test]
    fn account_setting_and_pbx_request_combine() {
        let asks = h(&[("Call-Info", "<sip:pbx>;answer-after=5")]);
        let quiet = h(&[]);
        let two = Some(Duration::from_secs(2));
        assert_eq!(
            auto_answer_delay(&asks, None, true),
            Some(Duration::from_secs(5))
        );
        assert_eq!(auto_answer_delay(&asks, two, true), two);
        assert_eq!(auto_answer_delay(&asks, None, false), None);
        assert_eq!(auto_answer_delay(&quiet, two, true), two);
        assert_eq!(auto_answer_delay(&quiet, None, true), None);
    }
}
