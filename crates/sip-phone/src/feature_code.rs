//! Feature-code calls: a short INVITE to a PBX service code (`*62` to pause in the queue, `*63`
//! to unpause...) that is hung up as soon as the PBX answers or refuses it, or after a time
//! limit. Such a call is not a call for the agent: it emits no [`crate::PhoneEvent`], starts no
//! media (its RTP port is held, nothing is played or recorded) and is not in the call table,
//! so front ends never log it, ring for it or count it.

use serde::Serialize;

/// How a feature-code call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FeatureCodeOutcome {
    /// The PBX answered (2xx); we sent BYE at once.
    Answered { code: u16 },
    /// The PBX refused the code with a final non-2xx response (404, 403, 486, 503...).
    Rejected { code: u16, reason: String },
    /// No final response within the time limit; the INVITE was cancelled.
    NoAnswer { after_ms: u64 },
}

impl FeatureCodeOutcome {
    /// Whether the PBX took the code (it answered).
    pub fn accepted(&self) -> bool {
        matches!(self, Self::Answered { .. })
    }
}
