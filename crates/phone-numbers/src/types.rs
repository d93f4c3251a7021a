//! Public result and configuration types.

use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;

/// What kind of line a number reaches, as far as the metadata knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    Mobile,
    FixedLine,
    /// Regions such as the US/Canada where the number itself does not tell.
    FixedLineOrMobile,
    /// Free for the caller, e.g. China `800` numbers.
    TollFree,
    /// Cost shared by caller and callee, e.g. China `400` business service numbers.
    SharedCost,
    PremiumRate,
    Voip,
    PersonalNumber,
    Pager,
    /// Universal access / company numbers.
    Uan,
    Voicemail,
    /// National short service code such as `95555` (bank) or `10086` (carrier hotline).
    ServiceShortCode,
    /// A PBX extension of this call center.
    InternalExtension,
    Unknown,
}

impl NumberType {
    /// Business service numbers (China `400` / `800`, short codes): usually a company, not a
    /// person, so a screen pop may prefer an account over a contact.
    pub fn is_business_service(self) -> bool {
        matches!(
            self,
            NumberType::TollFree
                | NumberType::SharedCost
                | NumberType::PremiumRate
                | NumberType::Uan
                | NumberType::ServiceShortCode
        )
    }
}

impl From<phonenumber::Type> for NumberType {
    fn from(t: phonenumber::Type) -> Self {
        use phonenumber::Type as T;
        match t {
            T::Mobile => NumberType::Mobile,
            T::FixedLine => NumberType::FixedLine,
            T::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            T::TollFree => NumberType::TollFree,
            T::SharedCost => NumberType::SharedCost,
            T::PremiumRate => NumberType::PremiumRate,
            T::Voip => NumberType::Voip,
            T::PersonalNumber => NumberType::PersonalNumber,
            T::Pager => NumberType::Pager,
            T::Uan => NumberType::Uan,
            T::Voicemail => NumberType::Voicemail,
            T::ShortCode | T::Emergency => NumberType::ServiceShortCode,
            T::StandardRate | T::Carrier | T::NoInternational | T::Unknown => NumberType::Unknown,
        }
    }
}

/// A number reachable from the public network, in E.164.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicNumber {
    /// `+` country code national significant number, e.g. `+8613800138000`.
    pub e164: String,
    /// Country calling code, e.g. 86.
    pub country_code: u16,
    /// National significant number: no country code, no trunk `0`, e.g. `1012345678`.
    pub national_number: String,
    /// ISO 3166-1 alpha-2 region, e.g. `CN`, `GB`; `None` for non-geographic codes (+800 ...).
    pub region: Option<String>,
    pub number_type: NumberType,
    /// Extension digits (`ext 123`, `转123`, `;ext=12`, ...), never part of `e164`.
    pub extension: Option<String>,
}

/// A national short service code (e.g. `95555`, `10086`, `12345`), kept as dialed because it
/// has no E.164 form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceCode {
    /// The digits as dialed nationally, e.g. `95555`.
    pub number: String,
    /// The normalizer's default region, where the code is valid.
    pub region: String,
    pub extension: Option<String>,
}

/// A short internal PBX extension (e.g. `8001`); never turned into E.164.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InternalExtension {
    /// The extension digits, e.g. `8001`.
    pub number: String,
    /// A sub-extension written after it, if any (rare).
    pub extension: Option<String>,
}

/// The result of [`crate::Normalizer::normalize`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Normalized {
    /// A real public number with an E.164 form.
    Public(PublicNumber),
    /// A national short service code.
    ServiceCode(ServiceCode),
    /// An internal PBX extension.
    Internal(InternalExtension),
}

impl Normalized {
    /// The E.164 string; `None` for service codes and internal extensions.
    pub fn e164(&self) -> Option<&str> {
        match self {
            Normalized::Public(p) => Some(&p.e164),
            _ => None,
        }
    }

    pub fn number_type(&self) -> NumberType {
        match self {
            Normalized::Public(p) => p.number_type,
            Normalized::ServiceCode(_) => NumberType::ServiceShortCode,
            Normalized::Internal(_) => NumberType::InternalExtension,
        }
    }

    /// ISO region; `None` for internal extensions and non-geographic numbers.
    pub fn region(&self) -> Option<&str> {
        match self {
            Normalized::Public(p) => p.region.as_deref(),
            Normalized::ServiceCode(s) => Some(&s.region),
            Normalized::Internal(_) => None,
        }
    }

    pub fn extension(&self) -> Option<&str> {
        match self {
            Normalized::Public(p) => p.extension.as_deref(),
            Normalized::ServiceCode(s) => s.extension.as_deref(),
            Normalized::Internal(i) => i.extension.as_deref(),
        }
    }

    pub fn is_internal(&self) -> bool {
        matches!(self, Normalized::Internal(_))
    }
}

/// A national short service code pattern: digits starting with `prefix` whose total length is
/// in `lengths`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCodeRule {
    pub prefix: String,
    pub lengths: RangeInclusive<usize>,
}

impl ServiceCodeRule {
    pub fn new(prefix: &str, lengths: RangeInclusive<usize>) -> Self {
        Self {
            prefix: prefix.to_owned(),
            lengths,
        }
    }

    pub(crate) fn matches(&self, digits: &str) -> bool {
        self.lengths.contains(&digits.len()) && digits.starts_with(&self.prefix)
    }
}

/// Configuration of a [`crate::Normalizer`]. `Default` suits a mainland-China center without a
/// default area code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NormalizerOptions {
    /// The center's own area code without trunk prefix (e.g. `"21"` for Shanghai). Local
    /// subscriber numbers (`62345678`) are completed with it; without it they are rejected
    /// with [`crate::NumberError::MissingAreaCode`].
    pub default_area_code: Option<String>,
    /// Digit counts treated as internal PBX extensions when written without `+`. Default 3..=6.
    pub internal_extension_lengths: RangeInclusive<usize>,
    /// Digit counts of local subscriber numbers (no trunk prefix, no area code). Default 7..=8,
    /// as in China.
    pub local_number_lengths: RangeInclusive<usize>,
    /// Carrier / IP-dialing prefixes that PBXs and old phones put before a full number
    /// (`17951 13800138000`). `None` = built-in list for the region (China: 17951, 17911,
    /// 12593, 10193, 17901, 17908, 17909, 17931, 17921, 11808, 96688); `Some(vec![])` disables.
    pub ip_dial_prefixes: Option<Vec<String>>,
    /// Short service codes recognised before the internal-extension rule. `None` = built-ins
    /// for the region (see [`crate::default_service_codes`]); `Some(vec![])` disables, e.g. for
    /// a PBX whose extensions are 5 digits starting with `10`.
    pub service_codes: Option<Vec<ServiceCodeRule>>,
}

impl Default for NormalizerOptions {
    fn default() -> Self {
        Self {
            default_area_code: None,
            internal_extension_lengths: 3..=6,
            local_number_lengths: 7..=8,
            ip_dial_prefixes: None,
            service_codes: None,
        }
    }
}

impl NormalizerOptions {
    /// Same as `default()` with the center's area code set, e.g. `with_area_code("21")`.
    pub fn with_area_code(area_code: &str) -> Self {
        Self {
            default_area_code: Some(area_code.to_owned()),
            ..Self::default()
        }
    }
}
