//! What the tray icon shows (the agent's state) and the quick changes its menu offers, as plain
//! data: the shell builds the native menu from [`menu_entries`] and turns a clicked item's id
//! back into a command with [`parse_menu_id`].

use seatline_agent_state::{AgentEvent, AgentState};

/// The agent's state in words for the tray tooltip and the menu's first line.
pub fn state_text(state: &AgentState) -> String {
    match state {
        AgentState::Ready => "Ready".to_owned(),
        AgentState::NotReady { reason } if reason.is_empty() => "Not ready".to_owned(),
        AgentState::NotReady { reason } => format!("Not ready ({reason})"),
        AgentState::OnCall => "On call".to_owned(),
        AgentState::AfterCallWork => "After-call work".to_owned(),
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
) -> Vec<Option<MenuEntry>> {
    let busy = matches!(state, AgentState::OnCall | AgentState::AfterCallWork);
    let mut entries = vec![
        Some(MenuEntry {
            id: STATE_LINE.to_owned(),
            text: format!("Seatline: {}", state_text(state)),
            enabled: false,
        }),
        None,
        Some(MenuEntry {
            id: READY.to_owned(),
            text: "Ready".to_owned(),
            enabled: !busy && *state != AgentState::Ready,
        }),
    ];
    for reason in reasons {
        let current = matches!(state, AgentState::NotReady { reason: r } if r == reason);
        entries.push(Some(MenuEntry {
            id: format!("{NOT_READY}{reason}"),
            text: format!("Not ready: {reason}"),
            enabled: !busy && !current,
        }));
    }
    entries.push(None);
    entries.push(Some(MenuEntry {
        id: TOGGLE.to_owned(),
        text: if window_visible {
            "Hide window"
        } else {
            "Show window"
        }
        .to_owned(),
        enabled: true,
    }));
    entries.push(Some(MenuEntry {
        id: QUIT.to_owned(),
        text: "Quit Seatline".to_owned(),
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

    #[test]
    fn state_texts() {
        assert_eq!(state_text(&AgentState::Ready), "Ready");
        assert_eq!(
            state_text(&AgentState::NotReady {
                reason: "lunch".into()
            }),
            "Not ready (lunch)"
        );
        assert_eq!(state_text(&AgentState::OnCall), "On call");
        assert_eq!(state_text(&AgentState::AfterCallWork), "After-call work");
    }

    #[test]
    fn not_ready_offers_ready_and_the_other_reasons() {
        let entries = menu_entries(
            &AgentState::NotReady {
                reason: "break".into(),
            },
            &reasons(),
            true,
        );
        assert_eq!(
            entries[0].as_ref().unwrap().text,
            "Seatline: Not ready (break)"
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
            let entries = menu_entries(&state, &reasons(), false);
            assert_eq!(enabled(&entries), vec!["window:toggle", "app:quit"]);
            assert!(entries.iter().flatten().any(|e| e.text == "Show window"));
        }
    }

    #[test]
    fn menu_ids_round_trip_to_commands() {
        for entry in menu_entries(&AgentState::Ready, &reasons(), true)
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
