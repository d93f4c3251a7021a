//! A fast path for numbers of the default region.
//!
//! `phonenumber` keeps its compiled regexes in one process-wide LRU cache of 100 entries
//! behind a mutex and, to classify a number, runs up to eleven of them through that cache.
//! Indexing a million CRM rows at start-up is dominated by that. Here the default region's
//! descriptors are compiled once, when the [`crate::Normalizer`] is built, and applied with the
//! exact rules of `phonenumber`'s own `number_type` (same order, same possible-length check,
//! same "match starting at 0" semantics). Anything the fast path does not accept as valid goes
//! through the full `phonenumber` parser, so it can only shortcut, never change, a result; a
//! differential unit test checks that against the full path.

use phonenumber::metadata::{Descriptor, Metadata};
use phonenumber::Type;
use regex::{Regex, RegexBuilder};

struct Pattern {
    regex: Regex,
    lengths: Vec<u16>,
}

impl Pattern {
    fn new(descriptor: &Descriptor) -> Option<Self> {
        // Same flags as phonenumber's loader (`ignore_whitespace`); anchored at the start
        // because phonenumber accepts only a match that starts at 0.
        let source = format!("^(?:{})", descriptor.national_number().as_str());
        let regex = RegexBuilder::new(&source)
            .ignore_whitespace(true)
            .build()
            .ok()?;
        Some(Self {
            regex,
            lengths: descriptor.possible_length().to_vec(),
        })
    }

    fn is_match(&self, value: &str) -> bool {
        let length_ok = self.lengths.is_empty()
            || u16::try_from(value.len()).is_ok_and(|len| self.lengths.contains(&len));
        length_ok && self.regex.is_match(value)
    }
}

pub(crate) struct FastPath {
    pub(crate) country_code: u16,
    country_code_text: String,
    national_prefix: Option<String>,
    general: Pattern,
    /// Checked in this order before fixed line / mobile, as phonenumber does.
    special: Vec<(Type, Pattern)>,
    fixed_line: Option<Pattern>,
    mobile: Option<Pattern>,
    fixed_line_equals_mobile: bool,
}

impl FastPath {
    /// `None` when the region shares its country code with others (e.g. +1), where the region
    /// of a number needs phonenumber's per-region lookup, or when a pattern does not compile.
    pub(crate) fn new(meta: &Metadata, regions_for_code: usize) -> Option<Self> {
        if regions_for_code != 1 {
            return None;
        }
        let d = meta.descriptors();
        let mut special = Vec::new();
        for (kind, descriptor) in [
            (Type::PremiumRate, d.premium_rate()),
            (Type::TollFree, d.toll_free()),
            (Type::SharedCost, d.shared_cost()),
            (Type::Voip, d.voip()),
            (Type::PersonalNumber, d.personal_number()),
            (Type::Pager, d.pager()),
            (Type::Uan, d.uan()),
            (Type::Voicemail, d.voicemail()),
        ] {
            if let Some(descriptor) = descriptor {
                special.push((kind, Pattern::new(descriptor)?));
            }
        }
        let compile = |d: Option<&Descriptor>| match d {
            Some(d) => Pattern::new(d).map(Some),
            None => Some(None),
        };
        let fixed_line_equals_mobile = d.fixed_line().map(|f| f.national_number().as_str())
            == d.mobile().map(|m| m.national_number().as_str());
        Some(Self {
            country_code: meta.country_code(),
            country_code_text: meta.country_code().to_string(),
            national_prefix: meta.national_prefix().map(str::to_owned),
            general: Pattern::new(d.general())?,
            special,
            fixed_line: compile(d.fixed_line())?,
            mobile: compile(d.mobile())?,
            fixed_line_equals_mobile,
        })
    }

    /// The national significant number and its type if `digits` (international when `plus`)
    /// is a plain valid number of this region: optional country code (with `plus`), optional
    /// trunk prefix, then the NSN. `None` means "ask the full parser".
    pub(crate) fn classify<'a>(&self, plus: bool, digits: &'a str) -> Option<(&'a str, Type)> {
        let nsn = if plus {
            digits.strip_prefix(self.country_code_text.as_str())?
        } else {
            digits
        };
        let nsn = match &self.national_prefix {
            Some(prefix) => nsn.strip_prefix(prefix.as_str()).unwrap_or(nsn),
            None => nsn,
        };
        if nsn.is_empty() || nsn.starts_with('0') {
            return None;
        }
        let kind = self.number_type(nsn);
        (kind != Type::Unknown).then_some((nsn, kind))
    }

    /// phonenumber's `validator::number_type`, on precompiled patterns.
    pub(crate) fn number_type(&self, nsn: &str) -> Type {
        if !self.general.is_match(nsn) {
            return Type::Unknown;
        }
        for (kind, pattern) in &self.special {
            if pattern.is_match(nsn) {
                return *kind;
            }
        }
        let mobile = |nsn: &str| self.mobile.as_ref().is_some_and(|m| m.is_match(nsn));
        if self.fixed_line.as_ref().is_some_and(|f| f.is_match(nsn)) {
            if self.fixed_line_equals_mobile || mobile(nsn) {
                return Type::FixedLineOrMobile;
            }
            return Type::FixedLine;
        }
        if mobile(nsn) {
            return Type::Mobile;
        }
        Type::Unknown
    }
}
