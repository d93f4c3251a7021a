//! What the tray icon shows (the agent's state) and the quick changes its menu offers, as plain
//! data: the shell builds the native menu from [`menu_entries`] and turns a clicked item's id
//! back into a command with [`parse_menu_id`]. Every text is in the UI's language, with the
//! words the window uses for the same states (ui/src/lib/locales).

use std::collections::BTreeMap;

use seatline_agent_state::{AgentEvent, AgentState};
use seatline_playbook::Playbook;
use seatline_settings::Language;

/// The center's words for its Not-ready reasons in the UI language, by code (from its playbook).
pub type ReasonLabels = BTreeMap<String, String>;

/// The labels `book` gives its Not-ready reasons in `language` (with the playbook's fallback
/// between languages); a reason with no label at all is left out (it gets the built-in word or
/// its code).
pub fn reason_labels(book: &Playbook, language: Language) -> ReasonLabels {
    let lang = match language {
        Language::En => "en",
        Language::ZhCn => "zh-CN",
    };
    book.not_ready_reasons
        .iter()
        .filter(|r| !r.labels.is_empty())
        .map(|r| {
            let text = seatline_playbook::label(&r.labels, &r.code, lang);
            (r.code.clone(), text.to_owned())
        })
        .collect()
}

/// A not-ready reason in words: the center's label when its playbook has one, else the window's
/// word for the reasons the built-in playbook names (and `login`), else the code as it is.
pub fn reason_text(reason: &str, language: Language, labels: &ReasonLabels) -> String {
    if let Some(label) = labels.get(reason) {
        return label.clone();
    }
    let known = match (reason, language) {
        ("login", Language::En) => "Just logged in",
        ("break", Language::En) => "Break",
        ("lunch", Language::En) => "Lunch",
        ("meeting", Language::En) => "Meeting",
        ("training", Language::En) => "Training",
        ("outbound", Language::En) => "Outbound work",
        ("login", Language::ZhCn) => "刚登录",
        ("break", Language::ZhCn) => "小休",
        ("lunch", Language::ZhCn) => "用餐",
        ("meeting", Language::ZhCn) => "会议",
        ("training", Language::ZhCn) => "培训",
        ("outbound", Language::ZhCn) => "外呼工作",
        (other, _) => other,
    };
    known.to_owned()
}

/// The agent's state in words for the tray tooltip and the menu's first line.
pub fn state_text(state: &AgentState, language: Language, labels: &ReasonLabels) -> String {
    let zh = language == Language::ZhCn;
    match state {
        AgentState::Ready => if zh { "示闲" } else { "Ready" }.to_owned(),
        AgentState::NotReady { reason } if reason.is_empty() => {
            if zh { "示忙" } else { "Not ready" }.to_owned()
        }
        AgentState::NotReady { reason } => {
            let reason = reason_text(reason, language, labels);
            if zh {
                format!("示忙（{reason}）")
            } else {
                format!("Not ready ({reason})")
            }
        }
        AgentState::OnCall => if zh { "通话中" } else { "On call" }.to_owned(),
        AgentState::AfterCallWork => if zh {
            "话后处理"
        } else {
            "After-call work"
        }
        .to_owned(),
    }
}

/// The tray icon's tooltip (also the menu's first line): the app and the agent's state.
pub fn tooltip(state: &AgentState, language: Language, labels: &ReasonLabels) -> String {
    match language {
        Language::ZhCn => format!("Seatline：{}", state_text(state, language, labels)),
        Language::En => format!("Seatline: {}", state_text(state, language, labels)),
    }
}

/// One item of the tray menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    pub id: String,
    pub text: String,
    pub enabled: bool,
}

/// What a tray menu item does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayCommand {
    Agent(AgentEvent),
    ToggleWindow,
    Quit,
}

const READY: &str = "state:ready";
const NOT_READY: &str = "state:not_ready:";
const TOGGLE: &str = "window:toggle";
const QUIT: &str = "app:quit";
/// The id of the (disabled) line that shows the state.
pub const STATE_LINE: &str = "state:current";

/// The menu for the agent's state: the state, Ready and each not-ready reason (the current one
/// and every state change during a call or its wrap-up disabled: a call decides those), then
/// show/hide and quit. `None` entries are separators.
pub fn menu_entries(
    state: &AgentState,
    reasons: &[String],
    window_visible: bool,
    language: Language,
    labels: &ReasonLabels,
) -> Vec<Option<MenuEntry>> {
    let zh = language == Language::ZhCn;
    let busy = matches!(state, AgentState::OnCall | AgentState::AfterCallWork);
    let mut entries = vec![
        Some(MenuEntry {
            id: STATE_LINE.to_owned(),
            text: tooltip(state, language, labels),
            enabled: false,
        }),
        None,
        Some(MenuEntry {
            id: READY.to_owned(),
            text: if zh { "示闲" } else { "Ready" }.to_owned(),
            enabled: !busy && *state != AgentState::Ready,
        }),
    ];
    for reason in reasons {
        let current = matches!(state, AgentState::NotReady { reason: r } if r == reason);
        entries.push(Some(MenuEntry {
            id: format!("{NOT_READY}{reason}"),
            text: if zh {
                format!("示忙：{}", reason_text(reason, language, labels))
            } else {
                format!("Not ready: {}", reason_text(reason, language, labels))
            },
            enabled: !busy && !current,
        }));
    }
    entries.push(None);
    entries.push(Some(MenuEntry {
        id: TOGGLE.to_owned(),
        text: match (window_visible, zh) {
            (true, false) => "Hide window",
            (false, false) => "Show window",
            (true, true) => "隐藏窗口",
            (false, true) => "显示窗口",
        }
        .to_owned(),
        enabled: true,
    }));
    entries.push(Some(MenuEntry {
        id: QUIT.to_owned(),
        text: if zh {
            "退出 Seatline"
        } else {
            "Quit Seatline"
        }
        .to_owned(),
        enabled: true,
    }));
    entries
}

/// The command behind a menu item's id; `None` for the state line or an unknown id.
pub fn parse_menu_id(id: &str) -> Option<TrayCommand> {
    match id {
        READY => Some(TrayCommand::Agent(AgentEvent::SetReady)),
        TOGGLE => Some(TrayCommand::ToggleWindow),
        QUIT => Some(TrayCommand::Quit),
        other => other
            .strip_prefix(NOT_READY)
            .filter(|r| !r.is_empty())
            .map(|reason| {
                TrayCommand::Agent(AgentEvent::SetNotReady {
                    reason: reason.to_owned(),
                })
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons() -> Vec<String> {
        vec!["break".into(), "lunch".into()]
    }

    fn enabled(entries: &[Option<MenuEntry>]) -> Vec<&str> {
        entries
            .iter()
            .flatten()
            .filter(|e| e.enabled)
            .map(|e| e.id.as_str())
            .collect()
    }

    const EN: Language = Language::En;
    const NONE: ReasonLabels = BTreeMap::new();
    const ZH: Language = Language::ZhCn;

    #[test]
    fn state_texts() {
        assert_eq!(state_text(&AgentState::Ready, EN, &NONE), "Ready");
        assert_eq!(
            state_text(
                &AgentState::NotReady {
                    reason: "lunch".into()
                },
                EN,
                &NONE
            ),
            "Not ready (Lunch)"
        );
        assert_eq!(state_text(&AgentState::OnCall, EN, &NONE), "On call");
        assert_eq!(
            state_text(&AgentState::AfterCallWork, EN, &NONE),
            "After-call work"
        );
        assert_eq!(tooltip(&AgentState::OnCall, EN, &NONE), "Seatline: On call");
    }

    #[test]
    fn state_texts_in_chinese() {
        assert_eq!(state_text(&AgentState::Ready, ZH, &NONE), "示闲");
        assert_eq!(
            state_text(
                &AgentState::NotReady {
                    reason: "lunch".into()
                },
                ZH,
                &NONE
            ),
            "示忙（用餐）"
        );
        assert_eq!(
            state_text(
                &AgentState::NotReady {
                    reason: String::new()
                },
                ZH,
                &NONE
            ),
            "示忙"
        );
        assert_eq!(state_text(&AgentState::OnCall, ZH, &NONE), "通话中");
        assert_eq!(
            state_text(&AgentState::AfterCallWork, ZH, &NONE),
            "话后处理"
        );
        assert_eq!(tooltip(&AgentState::Ready, ZH, &NONE), "Seatline：示闲");
    }

    #[test]
    fn the_centers_playbook_names_its_reasons_in_the_tray() {
        let mut book = Playbook::default();
        book.not_ready_reasons.push(seatline_playbook::CodeLabel {
            code: "coaching".into(),
            labels: BTreeMap::from([
                ("zh-TW".into(), "輔導".into()),
                ("en".into(), "Coaching".into()),
            ]),
        });
        book.not_ready_reasons.push(seatline_playbook::CodeLabel {
            code: "unlabelled".into(),
            labels: BTreeMap::new(),
        });
        let zh = reason_labels(&book, ZH);
        // zh-CN falls back to zh-TW before English, as in the window.
        assert_eq!(zh.get("coaching").map(String::as_str), Some("輔導"));
        assert_eq!(zh.get("lunch").map(String::as_str), Some("用餐"));
        assert!(!zh.contains_key("unlabelled"));
        let en = reason_labels(&book, EN);
        let state = AgentState::NotReady {
            reason: "coaching".into(),
        };
        assert_eq!(tooltip(&state, EN, &en), "Seatline: Not ready (Coaching)");
        assert_eq!(tooltip(&state, ZH, &zh), "Seatline：示忙（輔導）");
        assert_eq!(reason_text("unlabelled", EN, &en), "unlabelled");
        // `login` is not a playbook reason: the built-in words.
        assert_eq!(reason_text("login", ZH, &zh), "刚登录");
        let reasons: Vec<String> = book.reason_codes();
        let menu = menu_entries(&AgentState::Ready, &reasons, true, ZH, &zh);
        let texts: Vec<&str> = menu.iter().flatten().map(|e| e.text.as_str()).collect();
        assert!(texts.contains(&"示忙：輔導"), "{texts:?}");
        assert!(texts.contains(&"示忙：unlabelled"), "{texts:?}");
    }

    #[test]
    fn a_centers_own_reason_is_shown_as_it_is() {
        assert_eq!(reason_text("coaching", ZH, &NONE), "coaching");
        assert_eq!(reason_text("coaching", EN, &NONE), "coaching");
        assert_eq!(reason_text("outbound", ZH, &NONE), "外呼工作");
    }

    #[test]
    fn the_chinese_menu_has_the_same_items_in_chinese() {
        let state = AgentState::NotReady {
            reason: "break".into(),
        };
        let en = menu_entries(&state, &reasons(), false, EN, &NONE);
        let zh = menu_entries(&state, &reasons(), false, ZH, &NONE);
        // Same ids, same enabled flags, same separators: only the words differ.
        let shape = |entries: &[Option<MenuEntry>]| {
            entries
                .iter()
                .map(|e| e.as_ref().map(|e| (e.id.clone(), e.enabled)))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&en), shape(&zh));
        let texts: Vec<&str> = zh.iter().flatten().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Seatline：示忙（小休）",
                "示闲",
                "示忙：小休",
                "示忙：用餐",
                "显示窗口",
                "退出 Seatline"
            ]
        );
        let visible = menu_entries(&state, &reasons(), true, ZH, &NONE);
        assert!(visible.iter().flatten().any(|e| e.text == "隐藏窗口"));
    }

    #[test]
    fn not_ready_offers_ready_and_the_other_reasons() {
        let entries = menu_entries(
            &AgentState::NotReady {
                reason: "break".into(),
            },
            &reasons(),
            true,
            EN,
            &NONE,
        );
        assert_eq!(
            entries[0].as_ref().unwrap().text,
            "Seatline: Not ready (Break)"
        );
        assert_eq!(
            enabled(&entries),
            vec![
                "state:ready",
                "state:not_ready:lunch",
                "window:toggle",
                "app:quit"
            ]
        );
        assert!(entries.iter().flatten().any(|e| e.text == "Hide window"));
    }

    #[test]
    fn a_call_disables_every_state_change() {
        for state in [AgentState::OnCall, AgentState::AfterCallWork] {
            let entries = menu_entries(&state, &reasons(), false, EN, &NONE);
            assert_eq!(enabled(&entries), vec!["window:toggle", "app:quit"]);
            assert!(entries.iter().flatten().any(|e| e.text == "Show window"));
        }
    }

    #[test]
    fn menu_ids_round_trip_to_commands() {
        for entry in menu_entries(&AgentState::Ready, &reasons(), true, EN, &NONE)
            .into_iter()
            .flatten()
        {
            let command = parse_menu_id(&entry.id);
            match entry.id.as_str() {
                STATE_LINE => assert_eq!(command, None),
                "state:ready" => {
                    assert_eq!(command, Some(TrayCommand::Agent(AgentEvent::SetReady)))
                }
                "state:not_ready:lunch" => assert_eq!(
                    command,
                    Some(TrayCommand::Agent(AgentEvent::SetNotReady {
                        reason: "lunch".into()
                    }))
                ),
                _ => assert!(command.is_some(), "{}", entry.id),
            }
        }
        assert_eq!(parse_menu_id("state:not_ready:"), None);
        assert_eq!(parse_menu_id("bogus"), None);
    }
}
