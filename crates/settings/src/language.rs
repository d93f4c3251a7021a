//! The UI language: what the agent chose, and what that means on this OS.

use crate::SettingsError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The languages the UI ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }

    /// Maps an OS locale (BCP 47 such as `zh-Hans-CN`, or POSIX such as `zh_TW.UTF-8`) to a UI
    /// language. Every Chinese locale gets the Chinese UI (simplified is what we ship; readers
    /// of traditional script read it far better than English); everything else gets English.
    pub fn from_os_locale(locale: &str) -> Self {
        let primary = locale
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if primary == "zh" {
            Self::ZhCn
        } else {
            Self::En
        }
    }
}

/// The agent's choice: a fixed language, or follow the OS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum LanguagePref {
    #[default]
    #[serde(rename = "system")]
    System,
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl LanguagePref {
    /// The language the UI shows, given the OS locale (None when the OS reports none).
    pub fn resolve(self, os_locale: Option<&str>) -> Language {
        match self {
            Self::ZhCn => Language::ZhCn,
            Self::En => Language::En,
            Self::System => os_locale.map_or(Language::En, Language::from_os_locale),
        }
    }
}

impl fmt::Display for LanguagePref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::System => "system",
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        })
    }
}

impl FromStr for LanguagePref {
    type Err = SettingsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "system" | "auto" => Ok(Self::System),
            "zh-cn" | "zh" | "zh-hans" => Ok(Self::ZhCn),
            "en" | "en-us" | "en-gb" => Ok(Self::En),
            _ => Err(SettingsError::UnknownLanguage(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_locales_map_to_ui_languages() {
        for zh in ["zh-CN", "zh-Hans-CN", "zh_TW.UTF-8", "zh-HK", "ZH"] {
            assert_eq!(Language::from_os_locale(zh), Language::ZhCn, "{zh}");
        }
        for en in ["en-US", "en_GB.UTF-8", "fr-FR", "C", "POSIX", ""] {
            assert_eq!(Language::from_os_locale(en), Language::En, "{en}");
        }
    }

    #[test]
    fn system_preference_follows_the_os_and_fixed_ones_do_not() {
        assert_eq!(LanguagePref::System.resolve(Some("zh-CN")), Language::ZhCn);
        assert_eq!(LanguagePref::System.resolve(Some("de-DE")), Language::En);
        assert_eq!(LanguagePref::System.resolve(None), Language::En);
        assert_eq!(LanguagePref::En.resolve(Some("zh-CN")), Language::En);
        assert_eq!(LanguagePref::ZhCn.resolve(Some("en-US")), Language::ZhCn);
    }

    #[test]
    fn preference_parses_and_prints_round_trip() {
        for pref in [LanguagePref::System, LanguagePref::ZhCn, LanguagePref::En] {
            assert_eq!(pref.to_string().parse::<LanguagePref>().unwrap(), pref);
        }
        assert_eq!("zh_cn".parse::<LanguagePref>().unwrap(), LanguagePref::ZhCn);
        assert!("xx".parse::<LanguagePref>().is_err());
    }
}
