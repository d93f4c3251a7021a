//! Caller-number normalization for Seatline.
//!
//! When a call rings, the number from the SIP headers is matched to a customer record. Numbers
//! on the wire and in the CRM come in many shapes (`+86 138 0013 8000`, `008613800138000`,
//! `(0755) 8888 6666`, `sip:013800138000@10.0.0.1`, `＋８６１３８…`, `010-12345678 转 123`, ...).
//! [`Normalizer::normalize`] turns each into one of:
//!
//! * [`Normalized::Public`]: a real public number in E.164 with its type, region and extension;
//! * [`Normalized::ServiceCode`]: a national short code such as `95555`, kept as dialed;
//! * [`Normalized::Internal`]: a short PBX extension such as `8001`, never made E.164;
//!
//! or a typed [`NumberError`], including [`NumberError::Withheld`] for `anonymous` & co.
//! [`lookup_keys`] gives the keys a customer cache indexes and looks up.
//!
//! ```
//! use seatline_phone_numbers::{lookup_keys, Normalizer, NormalizerOptions, NumberType};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let normalizer = Normalizer::new("CN", NormalizerOptions::with_area_code("21"))?;
//! let caller = normalizer.normalize("sip:013800138000@10.0.0.1")?;
//! assert_eq!(caller.e164(), Some("+8613800138000"));
//! assert_eq!(caller.number_type(), NumberType::Mobile);
//! assert_eq!(lookup_keys(&caller), ["+8613800138000", "13800138000"]);
//!
//! let local = normalizer.normalize("6234 5678 转 8")?;
//! assert_eq!((local.e164(), local.extension()), (Some("+862162345678"), Some("8")));
//! assert!(normalizer.normalize("\"Zhang San\" <sip:1001@pbx>")?.is_internal());
//! assert!(normalizer.normalize("Anonymous").is_err_and(|e| e.is_withheld()));
//! # Ok(())
//! # }
//! ```
//!
//! Validation and classification use the `phonenumber` crate (libphonenumber metadata), pinned
//! exactly in Cargo.toml because its metadata changes results.
//!
//! # Order of decisions (documented ambiguities)
//!
//! 1. Withheld words, display names, `sip:`/`tel:` URIs and extensions are stripped; letters
//!    anywhere else are an error (no `1-800-FLOWERS` keypad mapping for caller ID).
//! 2. Without a `+`: a short code matching a service rule (China: `95xxx`, `96xxx`, `10xxx`,
//!    `11xxx`, `12xxx`, `11x`, `12x`) is a [`ServiceCode`]; otherwise 3–6 digits (configurable)
//!    are [`Internal`](Normalized::Internal). Service rules win, so `10086` is a service code and
//!    `1001` an extension.
//! 3. An IP-dialing prefix (`17951`, `12593`, `17911`, `10193`, ...) is stripped only when what
//!    follows is a complete number (a trunk-`0` number of 10+ digits or an 11-digit mobile);
//!    an 11-digit `179…` mobile is left alone.
//! 4. A local subscriber number (7–8 digits not starting with `0`/`1`) gets the trunk prefix
//!    and the configured default area code; with none configured it is
//!    [`NumberError::MissingAreaCode`].
//! 5. Digits that begin with the default region's country code but no `+` (`8613800138000` in
//!    CN) are first read as a national number; only if that is not valid are they read as
//!    international. No valid mainland number starts with `86` at 12–13 digits, so for CN this
//!    always means "+86 was meant".
//! 6. A number that the metadata does not consider valid is rejected with
//!    [`NumberError::InvalidForRegion`] rather than guessed.

mod error;
mod fast;
mod input;
mod types;

pub use error::{ConfigError, NumberError};
pub use types::{
    InternalExtension, Normalized, NormalizerOptions, NumberType, PublicNumber, ServiceCode,
    ServiceCodeRule,
};

use phonenumber::country;
use phonenumber::metadata::{Metadata, DATABASE};
use std::ops::RangeInclusive;

/// More digits than an IDD (up to 4) plus the 15 of E.164 cannot be a number.
const MAX_INPUT_DIGITS: usize = 19;
/// E.164 caps the country code plus national number at 15 digits.
const MAX_E164_DIGITS: usize = 15;
const MIN_DIGITS: usize = 3;

/// China's carrier-selection / IP-dialing prefixes.
const CN_IP_DIAL_PREFIXES: &[&str] = &[
    "17951", "17911", "12593", "10193", "17901", "17908", "17909", "17931", "17921", "11808",
    "96688",
];

/// Built-in short service code rules for a region (empty for regions other than CN).
///
/// China: `95xxx`–`95xxxxxx` national customer-service numbers (banks, insurers, carriers),
/// `96xxx(x)` regional service numbers, 5-digit `10xxx` (carrier hotlines `10086`, `10010`,
/// `10000`), `11xxx` (`11185` China Post), `12xxx` (`12306`, `12315`, `12345`), and 3-digit
/// `11x` / `12x` emergency and public-service numbers (`110`, `119`, `120`, `122`).
pub fn default_service_codes(region: &str) -> Vec<ServiceCodeRule> {
    if !region.eq_ignore_ascii_case("CN") {
        return Vec::new();
    }
    vec![
        ServiceCodeRule::new("95", 5..=8),
        ServiceCodeRule::new("96", 5..=6),
        ServiceCodeRule::new("10", 5..=5),
        ServiceCodeRule::new("11", 5..=5),
        ServiceCodeRule::new("12", 5..=5),
        ServiceCodeRule::new("11", 3..=3),
        ServiceCodeRule::new("12", 3..=3),
    ]
}

/// Normalizes caller numbers for one default region. Build once and share (`Send + Sync`):
/// construction validates the configuration and loads the metadata database, so `normalize`
/// does no set-up work per call.
#[derive(Clone)]
pub struct Normalizer {
    region: country::Id,
    meta: &'static Metadata,
    region_code: String,
    country_code: String,
    national_prefix: Option<String>,
    /// Trunk prefix + default area code, e.g. `021`.
    area_prefix: Option<String>,
    internal_lengths: RangeInclusive<usize>,
    local_lengths: RangeInclusive<usize>,
    ip_dial_prefixes: Vec<String>,
    service_codes: Vec<ServiceCodeRule>,
    /// Precompiled classifier for the default region; `None` disables the shortcut.
    fast: Option<std::sync::Arc<fast::FastPath>>,
}

impl Normalizer {
    /// `default_region` is an ISO 3166-1 alpha-2 code such as `"CN"` (case-insensitive).
    pub fn new(default_region: &str, options: NormalizerOptions) -> Result<Self, ConfigError> {
        let region_code = default_region.trim().to_ascii_uppercase();
        let unknown = || ConfigError::UnknownRegion {
            region: default_region.to_owned(),
        };
        let region: country::Id = region_code.parse().map_err(|_| unknown())?;
        // Also forces the lazily loaded metadata database now rather than on the first call.
        let meta = DATABASE.by_id(region_code.as_str()).ok_or_else(unknown)?;
        let national_prefix = meta.national_prefix().map(str::to_owned);

        check_range("internal extension", &options.internal_extension_lengths)?;
        check_range("local number", &options.local_number_lengths)?;

        let area_prefix = match options.default_area_code.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(area) => {
                let trunk = national_prefix.as_deref().unwrap_or("");
                let area = area
                    .strip_prefix(trunk)
                    .filter(|_| !trunk.is_empty())
                    .unwrap_or(area);
                if area.is_empty() || area.len() > 6 || !area.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ConfigError::InvalidAreaCode {
                        area_code: options.default_area_code.unwrap_or_default(),
                    });
                }
                Some(format!("{trunk}{area}"))
            }
        };

        let ip_dial_prefixes = match options.ip_dial_prefixes {
            Some(list) => list,
            None if region_code == "CN" => CN_IP_DIAL_PREFIXES
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            None => Vec::new(),
        };
        for prefix in &ip_dial_prefixes {
            check_prefix("IP-dialing", prefix)?;
        }
        let service_codes = options
            .service_codes
            .unwrap_or_else(|| default_service_codes(&region_code));
        for rule in &service_codes {
            check_prefix("service code", &rule.prefix)?;
            check_range("service code", &rule.lengths)?;
        }

        let regions_for_code = DATABASE.region(&meta.country_code()).map_or(0, |r| r.len());
        let fast = fast::FastPath::new(meta, regions_for_code).map(std::sync::Arc::new);

        Ok(Self {
            fast,
            region,
            meta,
            country_code: meta.country_code().to_string(),
            region_code,
            national_prefix,
            area_prefix,
            internal_lengths: options.internal_extension_lengths,
            local_lengths: options.local_number_lengths,
            ip_dial_prefixes,
            service_codes,
        })
    }

    /// The default region, upper case (e.g. `CN`).
    pub fn default_region(&self) -> &str {
        &self.region_code
    }

    /// Normalizes one caller number. See the crate docs for the order of decisions.
    pub fn normalize(&self, input: &str) -> Result<Normalized, NumberError> {
        let input::Cleaned {
            plus,
            digits,
            extension,
        } = input::clean(input)?;
        let count = digits.len();
        if count > MAX_INPUT_DIGITS {
            return Err(NumberError::TooLong {
                input: input.to_owned(),
                digits: count,
            });
        }

        let mut national = digits;
        let mut plus = plus;
        if plus {
            // `+0086 138...`: an international prefix typed after the plus.
            if let Some(rest) = self.strip_international_prefix(&national) {
                national = rest;
            }
        } else {
            if self
                .service_codes
                .iter()
                .any(|rule| rule.matches(&national))
            {
                return Ok(Normalized::ServiceCode(ServiceCode {
                    number: national,
                    region: self.region_code.clone(),
                    extension,
                }));
            }
            if self.internal_lengths.contains(&count) {
                return Ok(Normalized::Internal(InternalExtension {
                    number: national,
                    extension,
                }));
            }
            if count < MIN_DIGITS || count < *self.internal_lengths.start() {
                return Err(NumberError::TooShort {
                    input: input.to_owned(),
                    digits: count,
                });
            }
            national = self.strip_ip_dial_prefix(national);
            if let Some(rest) = self.strip_international_prefix(&national) {
                // `0044 20 7946 0958` from China, `011 86 ...` from the US.
                national = rest;
                plus = true;
            } else if self.is_local_subscriber_number(&national) {
                match &self.area_prefix {
                    Some(prefix) => national.insert_str(0, prefix),
                    None => {
                        return Err(NumberError::MissingAreaCode {
                            input: input.to_owned(),
                        })
                    }
                }
            }
        }

        // `+86 95555`, `0086 95555`: a service code of the default region written
        // internationally.
        if plus {
            if let Some(code) = national.strip_prefix(self.country_code.as_str()) {
                if self.service_codes.iter().any(|rule| rule.matches(code)) {
                    return Ok(Normalized::ServiceCode(ServiceCode {
                        number: code.to_owned(),
                        region: self.region_code.clone(),
                        extension,
                    }));
                }
            }
        }

        if let Some(fast) = &self.fast {
            if let Some((nsn, kind)) = fast.classify(plus, &national) {
                return Ok(Normalized::Public(PublicNumber {
                    e164: format!("+{}{nsn}", fast.country_code),
                    country_code: fast.country_code,
                    national_number: nsn.to_owned(),
                    region: Some(self.region_code.clone()),
                    number_type: kind.into(),
                    extension,
                }));
            }
        }

        let text = if plus {
            format!("+{national}")
        } else {
            national
        };
        let parsed = self.parse_valid(&text, input);
        let parsed = match parsed {
            Err(first) if !plus && text.starts_with(&self.country_code) => {
                // Rule 5: `8613800138000` meant `+86 13800138000`.
                self.parse_valid(&format!("+{text}"), input)
                    .map_err(|_| first)?
            }
            other => other?,
        };
        self.build(parsed, extension, input)
    }

    /// Strips the default region's international (IDD) prefix, `00` for China, when a country
    /// code (never starting with `0`) follows it.
    fn strip_international_prefix(&self, digits: &str) -> Option<String> {
        let found = self.meta.international_prefix()?.find(digits)?;
        let rest = &digits[found.end()..];
        (found.start() == 0 && !rest.is_empty() && !rest.starts_with('0')).then(|| rest.to_owned())
    }

    fn strip_ip_dial_prefix(&self, digits: String) -> String {
        for prefix in &self.ip_dial_prefixes {
            if let Some(rest) = digits.strip_prefix(prefix.as_str()) {
                let trunk_number = rest.starts_with('0') && rest.len() >= 10;
                let mobile = rest.starts_with('1') && rest.len() == 11;
                if trunk_number || mobile {
                    return rest.to_owned();
                }
            }
        }
        digits
    }

    fn is_local_subscriber_number(&self, digits: &str) -> bool {
        self.national_prefix.is_some()
            && self.local_lengths.contains(&digits.len())
            && !digits.starts_with(['0', '1'])
    }

    /// Parses and accepts only numbers the metadata calls valid. International text (`+...`) is
    /// parsed without a region: `phonenumber` would otherwise strip the *default* region's
    /// trunk prefix from the foreign national number (`+86 138...` with region US loses its `1`).
    fn parse_valid(
        &self,
        text: &str,
        input: &str,
    ) -> Result<(phonenumber::PhoneNumber, phonenumber::Type), NumberError> {
        let digits = text.trim_start_matches('+').len();
        let region = (!text.starts_with('+')).then_some(self.region);
        let number = phonenumber::parse(region, text).map_err(|e| {
            use phonenumber::ParseError as P;
            let input = input.to_owned();
            match e {
                P::InvalidCountryCode => NumberError::InvalidCountryCode { input },
                P::TooLong => NumberError::TooLong { input, digits },
                P::NoNumber | P::TooShortNsn | P::TooShortAfterIdd => {
                    NumberError::TooShort { input, digits }
                }
                P::MalformedInteger(_) => NumberError::InvalidForRegion {
                    input,
                    region: self.region_code.clone(),
                },
            }
        })?;
        let number_type = number.number_type(&DATABASE);
        if number_type == phonenumber::Type::Unknown {
            let code = number.code().value();
            // The main region of the country code (GB for an invalid +44 number), or `+800`.
            let region = DATABASE
                .region(&code)
                .and_then(|regions| regions.first().map(|r| (*r).to_owned()))
                .filter(|r| r.bytes().all(|b| b.is_ascii_alphabetic()))
                .unwrap_or_else(|| format!("+{code}"));
            return Err(NumberError::InvalidForRegion {
                input: input.to_owned(),
                region,
            });
        }
        Ok((number, number_type))
    }

    fn build(
        &self,
        (number, number_type): (phonenumber::PhoneNumber, phonenumber::Type),
        extension: Option<String>,
        input: &str,
    ) -> Result<Normalized, NumberError> {
        let country_code = number.code().value();
        let national_number = number.national().to_string();
        let e164 = format!("+{country_code}{national_number}");
        if e164.len() - 1 > MAX_E164_DIGITS {
            return Err(NumberError::TooLong {
                input: input.to_owned(),
                digits: e164.len() - 1,
            });
        }
        // Non-geographic entities (+800, +882, ...) have the pseudo-region "001".
        let region = number
            .metadata(&DATABASE)
            .map(|m| m.id())
            .filter(|id| id.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(str::to_owned);
        let extension = extension.or_else(|| number.extension().map(|e| e.to_string()));
        Ok(Normalized::Public(PublicNumber {
            e164,
            country_code,
            national_number,
            region,
            number_type: number_type.into(),
            extension,
        }))
    }
}

impl std::fmt::Debug for Normalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalizer")
            .field("region", &self.region_code)
            .field("area_prefix", &self.area_prefix)
            .field("internal_lengths", &self.internal_lengths)
            .field("local_lengths", &self.local_lengths)
            .field("ip_dial_prefixes", &self.ip_dial_prefixes)
            .field("service_codes", &self.service_codes)
            .finish_non_exhaustive()
    }
}

fn check_range(what: &'static str, range: &RangeInclusive<usize>) -> Result<(), ConfigError> {
    let (start, end) = (*range.start(), *range.end());
    if start == 0 || start > end || end > MAX_E164_DIGITS {
        return Err(ConfigError::InvalidRange { what, start, end });
    }
    Ok(())
}

fn check_prefix(what: &'static str, prefix: &str) -> Result<(), ConfigError> {
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::InvalidPrefix {
            what,
            prefix: prefix.to_owned(),
        });
    }
    Ok(())
}

/// Country calling codes whose national significant number is also used as a lookup key.
const NSN_KEY_COUNTRY_CODES: &[u16] = &[86];

/// The keys under which a customer cache should index a number (when loading CRM rows) and
/// look it up (when a call rings). Index every key of a row; on a call, try the keys in order
/// and take the first hit. Extensions are never part of a key: the customer owns the line.
///
/// * Public numbers: the E.164 string first: it is unique worldwide and what both sides
///   produce when both went through [`Normalizer::normalize`]. For China (+86) also the
///   national significant number (`13800138000`, `1012345678`) and, for fixed lines, its
///   trunk form (`01012345678`): Chinese CRM rows are very often stored without country code,
///   and a cache that indexes such rows as bare digits (or a row normalized with a different
///   default area) still meets the caller. Mainland NSNs cannot be mistaken for each other:
///   mobiles are 11 digits starting with `1`, landlines start with their area code. Other
///   countries get only the E.164 key, because a bare national number of one country can
///   equal another country's (a US `4155552671` vs. a Chinese landline NSN), which would
///   pop the wrong customer.
/// * Service codes: the code as dialed (`95555`); it is only meaningful nationally.
/// * Internal extensions: no keys. An extension is a colleague's desk phone, not a customer,
///   and the same `8001` exists in every PBX.
pub fn lookup_keys(number: &Normalized) -> Vec<String> {
    match number {
        Normalized::Public(p) => {
            let mut keys = vec![p.e164.clone()];
            if NSN_KEY_COUNTRY_CODES.contains(&p.country_code) {
                keys.push(p.national_number.clone());
                if p.number_type == NumberType::FixedLine {
                    keys.push(format!("0{}", p.national_number));
                }
            }
            keys
        }
        Normalized::ServiceCode(s) => vec![s.number.clone()],
        Normalized::Internal(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Normalizer>();
    }

    /// The fast path may only shortcut: on a broad corpus of CN-shaped inputs, results with and
    /// without it are identical.
    #[test]
    fn fast_path_agrees_with_full_parser() {
        let with_fast = match Normalizer::new("CN", NormalizerOptions::with_area_code("755")) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        assert!(with_fast.fast.is_some());
        let mut without_fast = with_fast.clone();
        without_fast.fast = None;

        let prefixes = [
            "", "0", "00", "+86", "+86 0", "86", "0086", "1", "13", "138", "147", "166", "17",
            "179", "18", "19", "10", "11", "12", "2", "20", "21", "3", "4", "400", "5", "6", "7",
            "8", "800", "9", "95", "010", "021", "0755", "+852", "+44", "+1",
        ];
        // Deterministic pseudo-random digits (64-bit LCG).
        let mut state: u64 = 0x05EA_711E;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 33
        };
        let (mut compared, mut valid) = (0, 0);
        for prefix in prefixes {
            for len in 4..=12 {
                for _ in 0..40 {
                    let mut input = prefix.to_owned();
                    for _ in 0..len {
                        input.push(char::from(b'0' + (next() % 10) as u8));
                    }
                    let fast = with_fast.normalize(&input);
                    assert_eq!(fast, without_fast.normalize(&input), "{input}");
                    compared += 1;
                    valid += usize::from(fast.is_ok_and(|n| n.e164().is_some()));
                }
            }
        }
        assert_eq!(compared, 38 * 9 * 40);
        // The corpus exercises the valid path, not only rejections.
        assert!(valid > 1_000, "only {valid} valid numbers");
    }

    #[test]
    fn fast_path_only_for_single_region_country_codes() {
        let us = Normalizer::new("US", NormalizerOptions::default());
        assert!(us.is_ok_and(|n| n.fast.is_none()));
        let gb = Normalizer::new("GB", NormalizerOptions::default());
        assert!(gb.is_ok_and(|n| n.fast.is_none()));
        let de = Normalizer::new("DE", NormalizerOptions::default());
        assert!(de.is_ok_and(|n| n.fast.is_some()));
    }

    #[test]
    fn ip_prefix_kept_when_rest_is_not_a_full_number() {
        let n = match Normalizer::new("CN", NormalizerOptions::default()) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(n.strip_ip_dial_prefix("17951234567".into()), "17951234567");
        assert_eq!(
            n.strip_ip_dial_prefix("1795113800138000".into()),
            "13800138000"
        );
        assert_eq!(
            n.strip_ip_dial_prefix("10193075588886666".into()),
            "075588886666"
        );
    }
}
