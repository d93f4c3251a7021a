//! The table of tricky inputs: what arrives from SIP headers, softphones and CRM exports, and
//! what each must normalize to.

use seatline_phone_numbers::{
    lookup_keys, Normalized, Normalizer, NormalizerOptions, NumberError, NumberType,
    ServiceCodeRule,
};

#[derive(Debug)]
enum Want {
    /// e164, type, region, extension
    Public(&'static str, NumberType, &'static str, Option<&'static str>),
    Service(&'static str, Option<&'static str>),
    Internal(&'static str),
    Withheld,
    InvalidCharacter(char),
    NoDigits,
    InvalidExtension,
    TooShort,
    TooLong,
    InvalidCountryCode,
    MissingAreaCode,
    InvalidForRegion(&'static str),
}

use NumberType::*;
use Want::*;

/// Default region CN, no default area code.
#[rustfmt::skip]
const CN: &[(&str, Want)] = &[
    // International forms of a mainland mobile.
    ("+86 138 0013 8000", Public("+8613800138000", Mobile, "CN", None)),
    ("+86-138-0013-8000", Public("+8613800138000", Mobile, "CN", None)),
    ("+86 (138) 0013.8000", Public("+8613800138000", Mobile, "CN", None)),
    ("008613800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("00 86 138 0013 8000", Public("+8613800138000", Mobile, "CN", None)),
    ("+0086 13800138000", Public("+8613800138000", Mobile, "CN", None)),
    // Ambiguity: country code without + (rule 5).
    ("8613800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("86 10 12345678", Public("+861012345678", FixedLine, "CN", None)),
    ("86075588886666", Public("+8675588886666", FixedLine, "CN", None)),
    // Bare national forms.
    ("13800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("138 0013 8000", Public("+8613800138000", Mobile, "CN", None)),
    ("013800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("010-12345678", Public("+861012345678", FixedLine, "CN", None)),
    ("(010) 12345678", Public("+861012345678", FixedLine, "CN", None)),
    ("(0755) 8888 6666", Public("+8675588886666", FixedLine, "CN", None)),
    ("075588886666", Public("+8675588886666", FixedLine, "CN", None)),
    ("0755-88886666", Public("+8675588886666", FixedLine, "CN", None)),
    ("021-62345678", Public("+862162345678", FixedLine, "CN", None)),
    ("+86 (0)755 8888 6666", Public("+8675588886666", FixedLine, "CN", None)),
    ("+86 0755 8888 6666", Public("+8675588886666", FixedLine, "CN", None)),
    // Local number without area code, none configured.
    ("62345678", MissingAreaCode),
    ("6234567", MissingAreaCode),
    // 400 / 800 business service numbers.
    ("400-820-8820", Public("+864008208820", SharedCost, "CN", None)),
    ("4008208820", Public("+864008208820", SharedCost, "CN", None)),
    ("400 820 8820 转 3", Public("+864008208820", SharedCost, "CN", Some("3"))),
    ("800-820-8820", Public("+868008208820", TollFree, "CN", None)),
    ("+86 800 820 8820", Public("+868008208820", TollFree, "CN", None)),
    // National short service codes: kept as dialed, not E.164, not internal.
    ("95555", Service("95555", None)),
    ("95588", Service("95588", None)),
    ("9 5 5 5 5", Service("95555", None)),
    ("10086", Service("10086", None)),
    ("12345", Service("12345", None)),
    ("12306", Service("12306", None)),
    ("11185", Service("11185", None)),
    ("96777", Service("96777", None)),
    ("95105888", Service("95105888", None)),
    ("110", Service("110", None)),
    ("120", Service("120", None)),
    ("95555,1", Service("95555", Some("1"))),
    ("+86 95555", Service("95555", None)),
    ("0086 95588", Service("95588", None)),
    // International from China.
    ("0044 20 7946 0958", Public("+442079460958", FixedLine, "GB", None)),
    ("00442079460958", Public("+442079460958", FixedLine, "GB", None)),
    ("+44 (0)20 7946 0958", Public("+442079460958", FixedLine, "GB", None)),
    ("+1 (415) 555-2671", Public("+14155552671", FixedLineOrMobile, "US", None)),
    ("001 415 555 2671", Public("+14155552671", FixedLineOrMobile, "US", None)),
    ("+852 9123 4567", Public("+85291234567", Mobile, "HK", None)),
    ("+886 912 345 678", Public("+886912345678", Mobile, "TW", None)),
    ("+800 1234 0000", Public("+80012340000", TollFree, "", None)),
    ("+800 1", TooShort),
    // IP-dialing / carrier-selection prefixes.
    ("17951 13800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("1795113800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("12593 010 12345678", Public("+861012345678", FixedLine, "CN", None)),
    ("17911075588886666", Public("+8675588886666", FixedLine, "CN", None)),
    ("10193013800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("10193 13800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("179510044 20 7946 0958", Public("+442079460958", FixedLine, "GB", None)),
    // Extensions.
    ("010-12345678 ext 123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678 ext. 123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678 EXT123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678 extension 123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678x123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678 X 123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678转123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678 转 123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678分机123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678#123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678#123#", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678,123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("010-12345678,,,123", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("+86 10 1234 5678 ext 0123", Public("+861012345678", FixedLine, "CN", Some("0123"))),
    ("13800138000#", Public("+8613800138000", Mobile, "CN", None)),
    // Full-width digits, plus, spaces, dashes, parentheses.
    ("＋８６１３８００１３８０００", Public("+8613800138000", Mobile, "CN", None)),
    ("＋８６　１３８－００１３－８０００", Public("+8613800138000", Mobile, "CN", None)),
    ("（０１０）１２３４５６７８", Public("+861012345678", FixedLine, "CN", None)),
    ("０１０－１２３４５６７８转１２３", Public("+861012345678", FixedLine, "CN", Some("123"))),
    ("１３８００１３８０００", Public("+8613800138000", Mobile, "CN", None)),
    ("\u{200B}13800138000\u{00A0}", Public("+8613800138000", Mobile, "CN", None)),
    ("138\u{2014}0013\u{2014}8000", Public("+8613800138000", Mobile, "CN", None)),
    ("  13800138000\t", Public("+8613800138000", Mobile, "CN", None)),
    // SIP / TEL URIs as the softphone hands them over.
    ("sip:+8613800138000@pbx.example.com;user=phone", Public("+8613800138000", Mobile, "CN", None)),
    ("sip:013800138000@10.0.0.1", Public("+8613800138000", Mobile, "CN", None)),
    ("sips:13800138000@pbx.example.com:5061;transport=tls",
        Public("+8613800138000", Mobile, "CN", None)),
    ("SIP:+8613800138000@PBX", Public("+8613800138000", Mobile, "CN", None)),
    ("sip:%2B8613800138000@pbx", Public("+8613800138000", Mobile, "CN", None)),
    ("<sip:075588886666@10.0.0.1>;tag=a6c85cf", Public("+8675588886666", FixedLine, "CN", None)),
    ("tel:+86-10-12345678;ext=12", Public("+861012345678", FixedLine, "CN", Some("12"))),
    ("tel:+8613800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("tel:12345678;phone-context=+86-10", Public("+861012345678", FixedLine, "CN", None)),
    ("\"Zhang San\" <sip:1001@pbx>", Internal("1001")),
    ("\"张三\" <sip:+8613800138000@pbx.example.com>", Public("+8613800138000", Mobile, "CN", None)),
    ("Zhang San <sip:013800138000@10.0.0.1;user=phone>",
        Public("+8613800138000", Mobile, "CN", None)),
    ("sip:8001@10.0.0.1", Internal("8001")),
    // Internal PBX extensions: 3-6 digits.
    ("8001", Internal("8001")),
    ("801", Internal("801")),
    ("1001", Internal("1001")),
    ("60001", Internal("60001")),
    ("123456", Internal("123456")),
    ("80-01", Internal("8001")),
    // Withheld.
    ("anonymous", Withheld),
    ("Anonymous", Withheld),
    ("ANONYMOUS", Withheld),
    ("unknown", Withheld),
    ("Unknown", Withheld),
    ("private", Withheld),
    ("restricted", Withheld),
    ("", Withheld),
    ("   ", Withheld),
    ("\"Anonymous\" <sip:anonymous@anonymous.invalid>", Withheld),
    ("sip:anonymous@anonymous.invalid", Withheld),
    ("匿名", Withheld),
    ("未知号码", Withheld),
    // Bad input.
    ("abc", InvalidCharacter('a')),
    ("1-800-FLOWERS", InvalidCharacter('F')),
    ("138o0138000", InvalidCharacter('o')),
    ("13800138000*", InvalidCharacter('*')),
    ("+86+13800138000", InvalidCharacter('+')),
    ("sip:alice@example.com", InvalidCharacter('a')),
    ("mailto:13800138000", InvalidCharacter('m')),
    ("---", NoDigits),
    ("+", NoDigits),
    ("010-12345678 ext abc", InvalidExtension),
    ("12", TooShort),
    ("7", TooShort),
    ("1234567890123456789012", TooLong),
    ("+999 1234 5678", InvalidCountryCode),
    ("+86 138 0013 800", InvalidForRegion("CN")),
    ("1380013800", InvalidForRegion("CN")),
    ("12800138000", InvalidForRegion("CN")),
    ("+86 12800138000", InvalidForRegion("CN")),
    ("0000000000", InvalidForRegion("CN")),
    ("+44 20 7946 095", InvalidForRegion("GB")),
];

/// Shanghai center: default area code 21.
#[rustfmt::skip]
const SHANGHAI: &[(&str, Want)] = &[
    ("62345678", Public("+862162345678", FixedLine, "CN", None)),
    ("6234 5678", Public("+862162345678", FixedLine, "CN", None)),
    ("6234-5678 转 88", Public("+862162345678", FixedLine, "CN", Some("88"))),
    // Explicit area codes and mobiles are untouched by the default.
    ("010-12345678", Public("+861012345678", FixedLine, "CN", None)),
    ("13800138000", Public("+8613800138000", Mobile, "CN", None)),
    ("95555", Service("95555", None)),
    ("8001", Internal("8001")),
    // 7-digit local numbers that Shanghai does not have are still validated.
    ("6234567", InvalidForRegion("CN")),
];

/// A US center, to show the default region is really configurable.
#[rustfmt::skip]
const US: &[(&str, Want)] = &[
    ("(415) 555-2671", Public("+14155552671", FixedLineOrMobile, "US", None)),
    ("1-415-555-2671", Public("+14155552671", FixedLineOrMobile, "US", None)),
    ("011 86 138 0013 8000", Public("+8613800138000", Mobile, "CN", None)),
    ("+86 138 0013 8000", Public("+8613800138000", Mobile, "CN", None)),
    ("415-555-2671 x 99", Public("+14155552671", FixedLineOrMobile, "US", Some("99"))),
    ("1-800-723-3456", Public("+18007233456", TollFree, "US", None)),
    // No Chinese service-code or IP-prefix rules outside CN.
    ("95555", Internal("95555")),
    ("5552671", MissingAreaCode),
];

fn check(normalizer: &Normalizer, table: &[(&str, Want)]) -> usize {
    let mut failures = Vec::new();
    for (input, want) in table {
        let got = normalizer.normalize(input);
        let ok = match (want, &got) {
            (Public(e164, ty, region, ext), Ok(Normalized::Public(p))) => {
                p.e164 == *e164
                    && p.number_type == *ty
                    && p.region.as_deref().unwrap_or("") == *region
                    && p.extension.as_deref() == *ext
            }
            (Service(number, ext), Ok(Normalized::ServiceCode(s))) => {
                s.number == *number
                    && s.extension.as_deref() == *ext
                    && s.region == normalizer.default_region()
            }
            (Internal(number), Ok(Normalized::Internal(i))) => i.number == *number,
            (_, Ok(_)) => false,
            (want, Err(e)) => {
                // Every error names the offending input verbatim.
                e.input() == *input
                    && e.to_string().contains(&format!("{input:?}"))
                    && match (want, e) {
                        (Withheld, NumberError::Withheld { .. }) => true,
                        (InvalidCharacter(c), NumberError::InvalidCharacter { found, .. }) => {
                            c == found
                        }
                        (NoDigits, NumberError::NoDigits { .. }) => true,
                        (InvalidExtension, NumberError::InvalidExtension { .. }) => true,
                        (TooShort, NumberError::TooShort { .. }) => true,
                        (TooLong, NumberError::TooLong { .. }) => true,
                        (InvalidCountryCode, NumberError::InvalidCountryCode { .. }) => true,
                        (MissingAreaCode, NumberError::MissingAreaCode { .. }) => true,
                        (InvalidForRegion(r), NumberError::InvalidForRegion { region, .. }) => {
                            region == r
                        }
                        _ => false,
                    }
            }
        };
        if !ok {
            failures.push(format!("{input:?}: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    table.len()
}

fn normalizer(region: &str, options: NormalizerOptions) -> Normalizer {
    match Normalizer::new(region, options) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn china_table() {
    assert!(check(&normalizer("CN", NormalizerOptions::default()), CN) > 100);
}

#[test]
fn shanghai_table_with_default_area_code() {
    let n = normalizer("CN", NormalizerOptions::with_area_code("21"));
    assert_eq!(check(&n, SHANGHAI), SHANGHAI.len());
    // The area code may also be configured with its trunk prefix.
    let n = normalizer("cn", NormalizerOptions::with_area_code("021"));
    assert_eq!(check(&n, SHANGHAI), SHANGHAI.len());
}

#[test]
fn us_table() {
    assert_eq!(
        check(&normalizer("US", NormalizerOptions::default()), US),
        US.len()
    );
}

#[test]
fn internal_extension_length_range_is_configurable() {
    let options = NormalizerOptions {
        internal_extension_lengths: 4..=4,
        ..NormalizerOptions::default()
    };
    let n = normalizer("CN", options);
    assert!(n
        .normalize("8001")
        .map(|r| r.is_internal())
        .unwrap_or(false));
    assert!(matches!(
        n.normalize("801"),
        Err(NumberError::TooShort { digits: 3, .. })
    ));
    assert!(matches!(
        n.normalize("80001"),
        Err(NumberError::InvalidForRegion { .. })
    ));
}

#[test]
fn service_code_rules_can_be_replaced() {
    // A PBX whose extensions are 5 digits starting with 10.
    let options = NormalizerOptions {
        service_codes: Some(vec![ServiceCodeRule::new("95", 5..=5)]),
        ..NormalizerOptions::default()
    };
    let n = normalizer("CN", options);
    assert!(n
        .normalize("10086")
        .map(|r| r.is_internal())
        .unwrap_or(false));
    assert_eq!(
        n.normalize("95555").map(|r| r.number_type()),
        Ok(ServiceShortCode)
    );
}

#[test]
fn ip_dial_prefixes_can_be_disabled() {
    let options = NormalizerOptions {
        ip_dial_prefixes: Some(Vec::new()),
        ..NormalizerOptions::default()
    };
    let n = normalizer("CN", options);
    // libphonenumber itself knows 17951 as a carrier code, so it still parses; 10193 it does not.
    assert!(matches!(
        n.normalize("10193013800138000"),
        Err(NumberError::InvalidForRegion { .. })
    ));
}

#[test]
fn lookup_keys_per_kind() {
    let n = normalizer("CN", NormalizerOptions::default());
    let keys = |s: &str| n.normalize(s).map(|r| lookup_keys(&r));
    assert_eq!(
        keys("+86 138 0013 8000"),
        Ok(vec!["+8613800138000".into(), "13800138000".into()])
    );
    assert_eq!(
        keys("010-12345678 转 5"),
        Ok(vec![
            "+861012345678".into(),
            "1012345678".into(),
            "01012345678".into()
        ])
    );
    assert_eq!(
        keys("400-820-8820"),
        Ok(vec!["+864008208820".into(), "4008208820".into()])
    );
    assert_eq!(keys("0044 20 7946 0958"), Ok(vec!["+442079460958".into()]));
    assert_eq!(keys("95555"), Ok(vec!["95555".into()]));
    assert_eq!(keys("8001"), Ok(Vec::<String>::new()));
}

#[test]
fn every_spelling_of_one_customer_shares_the_first_key() {
    let n = normalizer("CN", NormalizerOptions::default());
    let spellings = [
        "+86 138 0013 8000",
        "008613800138000",
        "8613800138000",
        "13800138000",
        "＋８６１３８００１３８０００",
        "sip:+8613800138000@pbx.example.com;user=phone",
        "sip:013800138000@10.0.0.1",
        "17951 13800138000",
        "138-0013-8000 转 12",
    ];
    for s in spellings {
        let keys = n.normalize(s).map(|r| lookup_keys(&r));
        assert_eq!(
            keys.as_ref().map(|k| k[0].as_str()),
            Ok("+8613800138000"),
            "{s}"
        );
    }
}

#[test]
fn results_serialize_for_the_frontend() {
    let n = normalizer("CN", NormalizerOptions::default());
    let json = |s: &str| match n.normalize(s) {
        Ok(r) => serde_json::to_value(r).unwrap_or_default(),
        Err(e) => serde_json::to_value(e).unwrap_or_default(),
    };
    assert_eq!(
        json("010-12345678#9"),
        serde_json::json!({
            "kind": "public", "e164": "+861012345678", "country_code": 86,
            "national_number": "1012345678", "region": "CN", "number_type": "fixed_line",
            "extension": "9"
        })
    );
    assert_eq!(
        json("1001"),
        serde_json::json!({"kind": "internal", "number": "1001", "extension": null})
    );
    assert_eq!(
        json("anonymous"),
        serde_json::json!({"error": "withheld", "input": "anonymous"})
    );
    // Round trip.
    let value = n.normalize("95555");
    let text = value
        .as_ref()
        .map(|v| serde_json::to_string(v).unwrap_or_default());
    let back: Result<Normalized, _> = serde_json::from_str(text.as_deref().unwrap_or(""));
    assert_eq!(back.ok(), value.ok());
}

#[test]
fn withheld_is_distinct_for_the_screen_pop() {
    let n = normalizer("CN", NormalizerOptions::default());
    assert!(n
        .normalize("Anonymous")
        .err()
        .map(|e| e.is_withheld())
        .unwrap_or(false));
    assert!(!n
        .normalize("abc")
        .err()
        .map(|e| e.is_withheld())
        .unwrap_or(true));
    let message = n
        .normalize("unknown")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(message, "caller number withheld (\"unknown\")");
}

#[test]
fn bad_configuration_is_rejected() {
    use seatline_phone_numbers::ConfigError;
    assert!(matches!(
        Normalizer::new("XX", NormalizerOptions::default()),
        Err(ConfigError::UnknownRegion { .. })
    ));
    assert!(matches!(
        Normalizer::new("CN", NormalizerOptions::with_area_code("2a")),
        Err(ConfigError::InvalidAreaCode { .. })
    ));
    let options = NormalizerOptions {
        internal_extension_lengths: std::ops::RangeInclusive::new(6, 3),
        ..NormalizerOptions::default()
    };
    assert!(matches!(
        Normalizer::new("CN", options),
        Err(ConfigError::InvalidRange { .. })
    ));
    let options = NormalizerOptions {
        ip_dial_prefixes: Some(vec!["17x51".into()]),
        ..NormalizerOptions::default()
    };
    assert!(matches!(
        Normalizer::new("CN", options),
        Err(ConfigError::InvalidPrefix { .. })
    ));
}

#[test]
fn normalizer_is_shared_across_threads() {
    let n = std::sync::Arc::new(normalizer("CN", NormalizerOptions::default()));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let n = std::sync::Arc::clone(&n);
            std::thread::spawn(move || {
                n.normalize(&format!("1380013800{i}"))
                    .map(|r| lookup_keys(&r))
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let keys = h.join().ok().and_then(|r| r.ok()).unwrap_or_default();
        assert_eq!(
            keys.first().map(String::as_str),
            Some(format!("+861380013800{i}").as_str())
        );
    }
}
