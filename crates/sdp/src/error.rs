//! Parse errors, each tied to the 1-based line it was found on.

use std::fmt::{self, Display, Formatter};

/// A session description that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number; `None` when the whole input is at fault (empty, too large).
    pub line: Option<usize>,
    pub kind: ParseErrorKind,
}

impl Display for ParseError {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "invalid SDP at line {n}: {}", self.kind),
            None => write!(f, "invalid SDP: {}", self.kind),
        }
    }
}

impl std::error::Error for ParseError {}

/// What was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("the description is empty")]
    Empty,
    #[error("the description is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    #[error("more than {max} lines")]
    TooManyLines { max: usize },
    #[error("more than {max} m= sections")]
    TooManyMedia { max: usize },
    #[error("more than {max} formats on the m= line")]
    TooManyFormats { max: usize },
    #[error("the text is not valid UTF-8")]
    InvalidUtf8,
    #[error("not a `<letter>=<value>` line: {0:?}")]
    MalformedLine(String),
    #[error("the first line must be v=0")]
    MissingVersion,
    #[error("unsupported protocol version v={0}")]
    UnsupportedVersion(String),
    #[error("missing {0}= line")]
    MissingLine(char),
    #[error("{0}= line appears more than once")]
    DuplicateLine(char),
    #[error("{0}= line is not allowed here")]
    UnexpectedLine(char),
    #[error("bad o= line: {0:?}")]
    BadOrigin(String),
    #[error("bad c= line: {0:?}")]
    BadConnection(String),
    #[error("bad b= line: {0:?}")]
    BadBandwidth(String),
    #[error("bad t= line: {0:?}")]
    BadTiming(String),
    #[error("bad m= line: {0}")]
    BadMedia(String),
    #[error("bad port {0:?}")]
    BadPort(String),
    #[error("bad payload type {0:?} (must be 0-127)")]
    BadPayloadType(String),
    #[error("bad a={name} attribute: {reason}")]
    BadAttribute { name: &'static str, reason: String },
    #[error("a={attr} refers to payload type {pt}, which is not on the m= line")]
    UnknownPayloadType { attr: &'static str, pt: u8 },
}
