//! The desktop habits the agent chooses: global hotkeys for the phone, desktop notifications and
//! start at login. Hotkeys are accelerator strings (`CmdOrCtrl+Shift+A`), checked and written in
//! one canonical form here so the shell registers exactly what the settings file says.

use serde::{Deserialize, Serialize};

/// The desktop section of the settings file (`[desktop]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DesktopSettings {
    pub hotkeys: Hotkeys,
    /// Desktop notifications for incoming calls, callbacks due and sync problems.
    pub notifications: bool,
    /// Start Seatline when the agent logs in to the computer.
    pub start_at_login: bool,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        Self {
            hotkeys: Hotkeys::default(),
            notifications: true,
            start_at_login: false,
        }
    }
}

impl DesktopSettings {
    /// Checks every hotkey and returns the settings with each one in canonical form.
    pub fn validated(&self) -> Result<Self, HotkeyError> {
        Ok(Self {
            hotkeys: self.hotkeys.validated()?,
            ..self.clone()
        })
    }
}

/// Global hotkeys for the phone; `None` (or an empty string in the UI) leaves an action unbound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hotkeys {
    pub answer: Option<String>,
    pub hangup: Option<String>,
    pub mute: Option<String>,
    pub hold: Option<String>,
}

impl Default for Hotkeys {
    fn default() -> Self {
        Self {
            answer: Some("CmdOrCtrl+Alt+A".to_owned()),
            hangup: Some("CmdOrCtrl+Alt+H".to_owned()),
            mute: Some("CmdOrCtrl+Alt+M".to_owned()),
            hold: Some("CmdOrCtrl+Alt+P".to_owned()),
        }
    }
}

/// A phone action a hotkey triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HotkeyAction {
    Answer,
    Hangup,
    Mute,
    Hold,
}

impl HotkeyAction {
    pub const ALL: [HotkeyAction; 4] = [Self::Answer, Self::Hangup, Self::Mute, Self::Hold];

    pub fn name(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Hangup => "hangup",
            Self::Mute => "mute",
            Self::Hold => "hold",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HotkeyError {
    #[error("hotkey for {action}: {reason} (in {given:?}); write it like CmdOrCtrl+Alt+A")]
    Invalid {
        action: &'static str,
        given: String,
        reason: String,
    },
    #[error("hotkeys for {first} and {second} are both {accelerator}; give each action its own")]
    Clash {
        first: &'static str,
        second: &'static str,
        accelerator: String,
    },
}

impl Hotkeys {
    pub fn get(&self, action: HotkeyAction) -> Option<&str> {
        match action {
            HotkeyAction::Answer => self.answer.as_deref(),
            HotkeyAction::Hangup => self.hangup.as_deref(),
            HotkeyAction::Mute => self.mute.as_deref(),
            HotkeyAction::Hold => self.hold.as_deref(),
        }
    }

    fn slot(&mut self, action: HotkeyAction) -> &mut Option<String> {
        match action {
            HotkeyAction::Answer => &mut self.answer,
            HotkeyAction::Hangup => &mut self.hangup,
            HotkeyAction::Mute => &mut self.mute,
            HotkeyAction::Hold => &mut self.hold,
        }
    }

    /// Every hotkey parsed and written canonically; an invalid one or two actions on the same
    /// keys is an error that names them. Empty strings unbind.
    pub fn validated(&self) -> Result<Self, HotkeyError> {
        let mut out = Self {
            answer: None,
            hangup: None,
            mute: None,
            hold: None,
        };
        let mut seen: Vec<(HotkeyAction, String)> = Vec::new();
        for action in HotkeyAction::ALL {
            let Some(given) = self.get(action).map(str::trim).filter(|s| !s.is_empty()) else {
                continue;
            };
            let canonical = parse_accelerator(given).map_err(|reason| HotkeyError::Invalid {
                action: action.name(),
                given: given.to_owned(),
                reason,
            })?;
            if let Some((first, _)) = seen.iter().find(|(_, c)| *c == canonical) {
                return Err(HotkeyError::Clash {
                    first: first.name(),
                    second: action.name(),
                    accelerator: canonical,
                });
            }
            seen.push((action, canonical.clone()));
            *out.slot(action) = Some(canonical);
        }
        Ok(out)
    }

    /// The bound hotkeys as (action, accelerator) pairs.
    pub fn bound(&self) -> Vec<(HotkeyAction, String)> {
        HotkeyAction::ALL
            .into_iter()
            .filter_map(|a| self.get(a).map(|s| (a, s.to_owned())))
            .collect()
    }
}

// Modifiers in the order the canonical form writes them, with the names accepted for each
// (the names the global-shortcut plugin's parser accepts).
const MODIFIERS: [(&str, &[&str]); 5] = [
    (
        "CmdOrCtrl",
        &[
            "cmdorctrl",
            "commandorcontrol",
            "cmdorcontrol",
            "commandorctrl",
        ],
    ),
    ("Ctrl", &["ctrl", "control"]),
    ("Alt", &["alt", "option"]),
    ("Shift", &["shift"]),
    ("Super", &["super", "cmd", "command", "meta"]),
];

// Named keys with the canonical spelling first.
const NAMED_KEYS: &[&[&str]] = &[
    &["Space", "space"],
    &["Enter", "enter", "return"],
    &["Tab", "tab"],
    &["Backspace", "backspace"],
    &["Delete", "delete", "del"],
    &["Insert", "insert"],
    &["Home", "home"],
    &["End", "end"],
    &["PageUp", "pageup"],
    &["PageDown", "pagedown"],
    &["Up", "up", "arrowup"],
    &["Down", "down", "arrowdown"],
    &["Left", "left", "arrowleft"],
    &["Right", "right", "arrowright"],
    &["Escape", "escape", "esc"],
    &["Pause", "pause"],
    &["Minus", "minus", "-"],
    &["Equal", "equal", "="],
    &["Comma", "comma", ","],
    &["Period", "period", "."],
    &["Slash", "slash", "/"],
    &["Semicolon", "semicolon", ";"],
    &["Quote", "quote", "'"],
    &["Backquote", "backquote", "`"],
    &["BracketLeft", "bracketleft", "["],
    &["BracketRight", "bracketright", "]"],
    &["Backslash", "backslash", "\\"],
];

/// Parses an accelerator such as `ctrl+alt+a` into its canonical form (`Ctrl+Alt+A`): any
/// modifiers, then exactly one key. A key without a modifier is refused unless it is a
/// function key (a bare letter would steal typing in every application).
pub fn parse_accelerator(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('+').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("an empty part (a doubled or trailing +)".to_owned());
    }
    let Some((key, modifiers)) = parts.split_last() else {
        return Err("no key".to_owned());
    };
    let mut present = [false; MODIFIERS.len()];
    for part in modifiers {
        let lower = part.to_ascii_lowercase();
        let Some(index) = MODIFIERS
            .iter()
            .position(|(_, names)| names.contains(&lower.as_str()))
        else {
            return Err(format!(
                "{part:?} is not a modifier (Ctrl, Alt, Shift, Super, CmdOrCtrl)"
            ));
        };
        if present[index] {
            return Err(format!("{part:?} given twice"));
        }
        present[index] = true;
    }
    let key = canonical_key(key)?;
    let function_key = key.starts_with('F') && key.len() > 1;
    if !present.iter().any(|p| *p) && !function_key {
        return Err(
            "a key without a modifier would take that key from every application".to_owned(),
        );
    }
    let mut out: Vec<&str> = MODIFIERS
        .iter()
        .zip(present)
        .filter(|(_, p)| *p)
        .map(|((name, _), _)| *name)
        .collect();
    out.push(&key);
    Ok(out.join("+"))
}

fn canonical_key(key: &str) -> Result<String, String> {
    let lower = key.to_ascii_lowercase();
    if MODIFIERS
        .iter()
        .any(|(_, names)| names.contains(&lower.as_str()))
    {
        return Err(format!("it ends with the modifier {key:?}; add a key"));
    }
    let mut chars = key.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if c.is_ascii_alphanumeric() {
            return Ok(c.to_ascii_uppercase().to_string());
        }
    }
    if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
        if (1..=24).contains(&n) && !lower[1..].starts_with('0') {
            return Ok(format!("F{n}"));
        }
    }
    if let Some(n) = lower
        .strip_prefix("numpad")
        .or_else(|| lower.strip_prefix("num"))
        .and_then(|n| n.parse::<u8>().ok())
    {
        if n <= 9 {
            return Ok(format!("Numpad{n}"));
        }
    }
    for names in NAMED_KEYS {
        if names.contains(&lower.as_str()) || names.contains(&key) {
            if let Some(name) = names.first() {
                return Ok((*name).to_owned());
            }
        }
    }
    Err(format!("{key:?} is not a key name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerators_are_written_canonically() {
        assert_eq!(parse_accelerator("ctrl+alt+a").unwrap(), "Ctrl+Alt+A");
        assert_eq!(
            parse_accelerator("Shift + Control + f5").unwrap(),
            "Ctrl+Shift+F5"
        );
        assert_eq!(
            parse_accelerator("CommandOrControl+Option+Space").unwrap(),
            "CmdOrCtrl+Alt+Space"
        );
        assert_eq!(parse_accelerator("Super+Esc").unwrap(), "Super+Escape");
        assert_eq!(parse_accelerator("F9").unwrap(), "F9");
        assert_eq!(parse_accelerator("Alt+numpad5").unwrap(), "Alt+Numpad5");
    }

    #[test]
    fn invalid_accelerators_say_why() {
        for bad in [
            "",
            "A",
            "Ctrl+",
            "Ctrl++A",
            "Ctrl+Alt",
            "Hyper+A",
            "Ctrl+Ctrl+A",
            "Ctrl+F25",
            "Ctrl+F0",
            "Ctrl+AB",
            "Ctrl+é",
        ] {
            assert!(parse_accelerator(bad).is_err(), "{bad:?} accepted");
        }
        let reason = parse_accelerator("Hyper+A").unwrap_err();
        assert!(reason.contains("Hyper"), "{reason}");
    }

    #[test]
    fn defaults_are_valid_and_distinct() {
        let hotkeys = Hotkeys::default();
        assert_eq!(hotkeys.validated().unwrap(), hotkeys);
        assert_eq!(hotkeys.bound().len(), 4);
    }

    #[test]
    fn a_clash_names_both_actions() {
        let hotkeys = Hotkeys {
            hold: Some("cmdorctrl+alt+m".to_owned()),
            ..Hotkeys::default()
        };
        let error = hotkeys.validated().unwrap_err();
        assert_eq!(
            error,
            HotkeyError::Clash {
                first: "mute",
                second: "hold",
                accelerator: "CmdOrCtrl+Alt+M".to_owned()
            }
        );
        assert!(error.to_string().contains("mute and hold"));
    }

    #[test]
    fn an_invalid_hotkey_names_its_action_and_empty_unbinds() {
        let hotkeys = Hotkeys {
            answer: Some("Ctrl+Nope".to_owned()),
            ..Hotkeys::default()
        };
        let error = hotkeys.validated().unwrap_err().to_string();
        assert!(
            error.contains("answer") && error.contains("Nope"),
            "{error}"
        );
        let unbound = Hotkeys {
            answer: Some("  ".to_owned()),
            ..Hotkeys::default()
        }
        .validated()
        .unwrap();
        assert_eq!(unbound.answer, None);
        assert_eq!(unbound.bound().len(), 3);
    }

    #[test]
    fn desktop_section_round_trips_through_toml_and_defaults_when_missing() {
        let settings = DesktopSettings {
            start_at_login: true,
            notifications: false,
            ..DesktopSettings::default()
        };
        let text = toml::to_string(&settings).unwrap();
        let back: DesktopSettings = toml::from_str(&text).unwrap();
        assert_eq!(back, settings);
        let empty: DesktopSettings = toml::from_str("").unwrap();
        assert_eq!(empty, DesktopSettings::default());
    }
}
