//! The PBX's queue-pause feature codes (`[queue_pause]`): when the agent goes Not ready the
//! phone dials the pause code, when the agent goes Ready the unpause code (Asterisk app_queue
//! dialplan codes, FreeSWITCH mod_callcenter, 3CX-style `*62`/`*63`). Off by default.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long a feature-code call may take when the file does not say.
pub const DEFAULT_QUEUE_PAUSE_TIMEOUT_SECS: u32 = 5;

/// The `[queue_pause]` section of the settings file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueuePauseSettings {
    /// Dial the codes at all (default off).
    pub enabled: bool,
    /// Dialled when the agent enters Not ready (any reason without a code of its own).
    pub pause: Option<String>,
    /// Dialled when the agent goes Ready.
    pub unpause: Option<String>,
    /// A pause code per Not-ready reason (`lunch = "*6202"`), for PBXs that record the reason.
    pub reasons: BTreeMap<String, String>,
    /// Seconds to wait for the PBX to answer or refuse a code before cancelling it (1-30).
    pub timeout_secs: u32,
}

impl Default for QueuePauseSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            pause: None,
            unpause: None,
            reasons: BTreeMap::new(),
            timeout_secs: DEFAULT_QUEUE_PAUSE_TIMEOUT_SECS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueuePauseError {
    #[error("invalid feature code {0:?}: expected digits, letters, * # + _ or a sip: URI")]
    InvalidCode(String),
    #[error("invalid queue_pause timeout {0}: expected 1 to 30 seconds")]
    InvalidTimeout(u32),
    #[error("queue_pause is enabled but neither a pause nor an unpause code is set")]
    NoCodes,
}

impl QueuePauseSettings {
    /// The pause code for a Not-ready reason: the reason's own code, else `pause`.
    pub fn pause_code(&self, reason: &str) -> Option<&str> {
        self.reasons
            .get(reason)
            .or(self.pause.as_ref())
            .map(String::as_str)
    }

    /// Checks every code and the timeout; returns the section with codes trimmed and empty
    /// codes dropped.
    pub fn validated(&self) -> Result<Self, QueuePauseError> {
        let code = |c: &Option<String>| -> Result<Option<String>, QueuePauseError> {
            match c.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(c) => check_code(c).map(Some),
            }
        };
        let mut reasons = BTreeMap::new();
        for (reason, c) in &self.reasons {
            if let Some(c) = code(&Some(c.clone()))? {
                reasons.insert(reason.trim().to_owned(), c);
            }
        }
        if !(1..=30).contains(&self.timeout_secs) {
            return Err(QueuePauseError::InvalidTimeout(self.timeout_secs));
        }
        let next = Self {
            enabled: self.enabled,
            pause: code(&self.pause)?,
            unpause: code(&self.unpause)?,
            reasons,
            timeout_secs: self.timeout_secs,
        };
        if next.enabled && next.pause.is_none() && next.unpause.is_none() && next.reasons.is_empty()
        {
            return Err(QueuePauseError::NoCodes);
        }
        Ok(next)
    }
}

fn check_code(code: &str) -> Result<String, QueuePauseError> {
    let lower = code.to_ascii_lowercase();
    let uri = lower.starts_with("sip:") || lower.starts_with("sips:");
    let dialable = !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '#' | '+' | '_'));
    if (uri && !code.chars().any(char::is_whitespace)) || dialable {
        Ok(code.to_owned())
    } else {
        Err(QueuePauseError::InvalidCode(code.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_with_a_five_second_timeout() {
        let q = QueuePauseSettings::default();
        assert!(!q.enabled);
        assert_eq!(q.pause, None);
        assert_eq!(q.timeout_secs, 5);
        assert_eq!(q.validated().unwrap(), q);
    }

    #[test]
    fn a_reason_code_wins_over_the_general_pause_code() {
        let q = QueuePauseSettings {
            enabled: true,
            pause: Some("*62".into()),
            reasons: [("lunch".to_owned(), "*6202".to_owned())].into(),
            ..QueuePauseSettings::default()
        };
        assert_eq!(q.pause_code("lunch"), Some("*6202"));
        assert_eq!(q.pause_code("break"), Some("*62"));
        let only_reasons = QueuePauseSettings { pause: None, ..q };
        assert_eq!(only_reasons.pause_code("break"), None);
    }

    #[test]
    fn codes_are_checked_trimmed_and_empty_ones_dropped() {
        let q = QueuePauseSettings {
            enabled: true,
            pause: Some(" *62 ".into()),
            unpause: Some("".into()),
            reasons: [("lunch".to_owned(), "sip:pause-lunch@pbx.example".to_owned())].into(),
            ..QueuePauseSettings::default()
        };
        let v = q.validated().unwrap();
        assert_eq!(v.pause.as_deref(), Some("*62"));
        assert_eq!(v.unpause, None);
        assert_eq!(v.reasons["lunch"], "sip:pause-lunch@pbx.example");

        let bad = QueuePauseSettings {
            pause: Some("*6 2".into()),
            ..QueuePauseSettings::default()
        };
        assert_eq!(
            bad.validated(),
            Err(QueuePauseError::InvalidCode("*6 2".into()))
        );
        let slow = QueuePauseSettings {
            timeout_secs: 0,
            ..QueuePauseSettings::default()
        };
        assert_eq!(slow.validated(), Err(QueuePauseError::InvalidTimeout(0)));
        let empty = QueuePauseSettings {
            enabled: true,
            ..QueuePauseSettings::default()
        };
        assert_eq!(empty.validated(), Err(QueuePauseError::NoCodes));
    }
}
