//! Typed errors. Every variant that concerns a number carries the offending input verbatim so
//! that logs and the screen pop can show exactly what arrived on the wire.

use serde::Serialize;
use thiserror::Error;

/// Why a caller number could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum NumberError {
    /// The caller withheld the number (`anonymous`, `unknown`, `private`, empty, ...).
    /// Not a fault: the screen pop should say "number withheld".
    #[error("caller number withheld ({input:?})")]
    Withheld { input: String },

    /// A character that has no place in a phone number (letters, `*`, ...).
    #[error("{input:?} is not a phone number: unexpected character {found:?}")]
    InvalidCharacter { input: String, found: char },

    /// Only punctuation, no digits at all.
    #[error("{input:?} is not a phone number: it contains no digits")]
    NoDigits { input: String },

    /// An extension marker (`ext`, `x`, `转`, `#`, `,`, `;ext=`) followed by something other
    /// than digits.
    #[error("{input:?} has a malformed extension")]
    InvalidExtension { input: String },

    /// Fewer digits than the shortest internal extension or service code.
    #[error("{input:?} is too short to be a phone number ({digits} digits)")]
    TooShort { input: String, digits: usize },

    /// More digits than any dialable number.
    #[error("{input:?} is too long to be a phone number ({digits} digits)")]
    TooLong { input: String, digits: usize },

    /// `+` or an international prefix followed by a country code that does not exist.
    #[error("{input:?} has an unknown country calling code")]
    InvalidCountryCode { input: String },

    /// A local subscriber number (e.g. 8 digits in China) without area code, and no default
    /// area code is configured.
    #[error("{input:?} is a local number without area code and no default area code is set")]
    MissingAreaCode { input: String },

    /// Well-formed digits that are not a valid number in the region they belong to.
    #[error("{input:?} is not a valid phone number for region {region}")]
    InvalidForRegion { input: String, region: String },
}

impl NumberError {
    /// True for [`NumberError::Withheld`]: show "number withheld" rather than an error.
    pub fn is_withheld(&self) -> bool {
        matches!(self, NumberError::Withheld { .. })
    }

    /// The input that produced this error, exactly as passed to `normalize`.
    pub fn input(&self) -> &str {
        match self {
            NumberError::Withheld { input }
            | NumberError::InvalidCharacter { input, .. }
            | NumberError::NoDigits { input }
            | NumberError::InvalidExtension { input }
            | NumberError::TooShort { input, .. }
            | NumberError::TooLong { input, .. }
            | NumberError::InvalidCountryCode { input }
            | NumberError::MissingAreaCode { input }
            | NumberError::InvalidForRegion { input, .. } => input,
        }
    }
}

/// Why a [`crate::Normalizer`] could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum ConfigError {
    /// The default region is not an ISO 3166-1 alpha-2 code known to the metadata.
    #[error("unknown default region {region:?}")]
    UnknownRegion { region: String },

    /// The default area code must be 1 to 6 ASCII digits without trunk prefix (e.g. "21").
    #[error("invalid default area code {area_code:?}: expected digits without the trunk prefix")]
    InvalidAreaCode { area_code: String },

    /// A length range is empty or outside 1..=15.
    #[error("invalid {what} length range {start}..={end}")]
    InvalidRange {
        what: &'static str,
        start: usize,
        end: usize,
    },

    /// An IP-dialing prefix or service-code prefix is empty or not all digits.
    #[error("invalid {what} prefix {prefix:?}: expected digits")]
    InvalidPrefix { what: &'static str, prefix: String },
}
