//! Which events show a desktop notification, decided in one pure function so the rules are
//! tested without a notification daemon: [`decide`] takes the agent's preference, what the
//! window is doing and the event, and returns the notice to show, if any, in the UI's language.

use seatline_settings::Language;
use serde::Serialize;

/// How the sync looks, in the words notifications care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncHealth {
    Fine,
    Offline,
    SignedOut,
    Stopped,
}

/// Something that happened on the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskEvent {
    IncomingCall {
        call: String,
        /// Who calls, as the phone panel shows it (name, else number, else "withheld").
        caller: String,
    },
    CallbackDue {
        order: String,
        title: String,
        /// Minutes until the callback is due (negative: overdue).
        minutes: i64,
    },
    /// A new sync view: the health and count of problems before and now.
    Sync {
        before: (SyncHealth, u64),
        now: (SyncHealth, u64),
        detail: Option<String>,
    },
}

/// What the agent allowed and what the window is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyPrefs {
    /// The "notifications" setting.
    pub enabled: bool,
    /// The main window is visible and focused: the agent sees the call already, except that an
    /// incoming call still notifies (a ringing phone must never be missed).
    pub window_focused: bool,
    /// The UI's language: the notice is written in it.
    pub language: Language,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    IncomingCall,
    CallbackDue,
    SyncProblem,
}

/// A button on the notice, where the OS shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeAction {
    Answer,
    Decline,
}

impl NoticeAction {
    /// The button's label.
    pub fn label(self, language: Language) -> &'static str {
        match (self, language) {
            (Self::Answer, Language::En) => "Answer",
            (Self::Decline, Language::En) => "Decline",
            (Self::Answer, Language::ZhCn) => "接听",
            (Self::Decline, Language::ZhCn) => "拒接",
        }
    }
}

/// A notice to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    pub actions: Vec<NoticeAction>,
    /// The call or order the notice is about (an action's target).
    pub subject: Option<String>,
}

/// A callback is announced once it is due within this many minutes.
pub const CALLBACK_LEAD_MINUTES: i64 = 5;

/// Whole minutes from `now_ms` (Unix milliseconds) until an RFC 3339 due time, rounded down
/// (negative when overdue); `None` when the time does not parse.
pub fn minutes_until(due_at: &str, now_ms: i64) -> Option<i64> {
    let due =
        time::OffsetDateTime::parse(due_at, &time::format_description::well_known::Rfc3339).ok()?;
    let due_ms = i64::try_from(due.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some((due_ms - now_ms).div_euclid(60_000))
}

/// The notice for `event`, or `None` when it should not notify.
pub fn decide(prefs: NotifyPrefs, event: &DeskEvent) -> Option<Notice> {
    if !prefs.enabled {
        return None;
    }
    let zh = prefs.language == Language::ZhCn;
    match event {
        DeskEvent::IncomingCall { call, caller } => Some(Notice {
            kind: NoticeKind::IncomingCall,
            title: if zh { "来电" } else { "Incoming call" }.to_owned(),
            body: caller.clone(),
            actions: vec![NoticeAction::Answer, NoticeAction::Decline],
            subject: Some(call.clone()),
        }),
        DeskEvent::CallbackDue {
            order,
            title,
            minutes,
        } => {
            if prefs.window_focused || *minutes > CALLBACK_LEAD_MINUTES {
                return None;
            }
            let when = match (*minutes, zh) {
                (m, false) if m < 0 => format!("overdue by {} min", -m),
                (0, false) => "due now".to_owned(),
                (m, false) => format!("due in {m} min"),
                (m, true) if m < 0 => format!("已逾期 {} 分钟", -m),
                (0, true) => "现在到期".to_owned(),
                (m, true) => format!("{m} 分钟后到期"),
            };
            Some(Notice {
                kind: NoticeKind::CallbackDue,
                title: if zh { "回电到期" } else { "Callback due" }.to_owned(),
                body: if zh {
                    format!("{title}（{when}）")
                } else {
                    format!("{title} ({when})")
                },
                actions: Vec::new(),
                subject: Some(order.clone()),
            })
        }
        DeskEvent::Sync {
            before,
            now,
            detail,
        } => {
            if prefs.window_focused {
                return None;
            }
            // Only a change for the worse notifies: a new kind of trouble, or more problems.
            let became = now.0 != SyncHealth::Fine && now.0 != before.0;
            let more_problems = now.1 > before.1;
            if !became && !more_problems {
                return None;
            }
            let body = if became {
                match (now.0, zh) {
                    (SyncHealth::Offline, false) => {
                        "The server cannot be reached; changes wait on this desktop.".to_owned()
                    }
                    (SyncHealth::Offline, true) => "无法连接服务器，更改暂存在本机。".to_owned(),
                    (SyncHealth::SignedOut, false) => {
                        "You were signed out; sign in again to sync.".to_owned()
                    }
                    (SyncHealth::SignedOut, true) => "已登出，请重新登录以同步。".to_owned(),
                    (SyncHealth::Stopped, false) => "Sync stopped on an error.".to_owned(),
                    (SyncHealth::Stopped, true) => "同步因错误而停止。".to_owned(),
                    (SyncHealth::Fine, _) => String::new(),
                }
            } else if zh {
                format!("{} 项更改无法同步。", now.1)
            } else {
                format!("{} change(s) could not be synced.", now.1)
            };
            let body = match detail {
                Some(d) if !d.is_empty() => format!("{body} {d}"),
                _ => body,
            };
            Some(Notice {
                kind: NoticeKind::SyncProblem,
                title: if zh { "同步问题" } else { "Sync problem" }.to_owned(),
                body,
                actions: Vec::new(),
                subject: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWAY: NotifyPrefs = NotifyPrefs {
        enabled: true,
        window_focused: false,
        language: Language::En,
    };
    const LOOKING: NotifyPrefs = NotifyPrefs {
        enabled: true,
        window_focused: true,
        language: Language::En,
    };
    const OFF: NotifyPrefs = NotifyPrefs {
        enabled: false,
        window_focused: false,
        language: Language::En,
    };
    const AWAY_ZH: NotifyPrefs = NotifyPrefs {
        language: Language::ZhCn,
        ..AWAY
    };

    fn ring() -> DeskEvent {
        DeskEvent::IncomingCall {
            call: "c1".into(),
            caller: "张伟 +8613800138000".into(),
        }
    }

    fn callback(minutes: i64) -> DeskEvent {
        DeskEvent::CallbackDue {
            order: "o1".into(),
            title: "Call back about the refund".into(),
            minutes,
        }
    }

    fn sync(before: (SyncHealth, u64), now: (SyncHealth, u64)) -> DeskEvent {
        DeskEvent::Sync {
            before,
            now,
            detail: None,
        }
    }

    #[test]
    fn minutes_until_a_due_time() {
        // 2026-11-30T12:00:00Z
        let noon = 1_796_040_000_000;
        assert_eq!(minutes_until("2026-11-30T12:05:00Z", noon), Some(5));
        assert_eq!(minutes_until("2026-11-30T20:05:30+08:00", noon), Some(5));
        assert_eq!(minutes_until("2026-11-30T11:58:30Z", noon), Some(-2));
        assert_eq!(minutes_until("tomorrow", noon), None);
    }

    #[test]
    fn incoming_calls_notify_with_answer_and_decline_even_when_focused() {
        for prefs in [AWAY, LOOKING] {
            let notice = decide(prefs, &ring()).unwrap();
            assert_eq!(notice.kind, NoticeKind::IncomingCall);
            assert_eq!(
                notice.actions,
                vec![NoticeAction::Answer, NoticeAction::Decline]
            );
            assert_eq!(notice.subject.as_deref(), Some("c1"));
            assert!(notice.body.contains("张伟"));
        }
    }

    #[test]
    fn nothing_notifies_when_the_agent_turned_notifications_off() {
        assert_eq!(decide(OFF, &ring()), None);
        assert_eq!(decide(OFF, &callback(0)), None);
        assert_eq!(
            decide(OFF, &sync((SyncHealth::Fine, 0), (SyncHealth::Offline, 0))),
            None
        );
    }

    #[test]
    fn callbacks_notify_within_the_lead_time_and_when_overdue() {
        assert_eq!(decide(AWAY, &callback(CALLBACK_LEAD_MINUTES + 1)), None);
        assert!(decide(AWAY, &callback(CALLBACK_LEAD_MINUTES))
            .unwrap()
            .body
            .contains("due in 5 min"));
        assert!(decide(AWAY, &callback(0)).unwrap().body.contains("due now"));
        assert!(decide(AWAY, &callback(-3))
            .unwrap()
            .body
            .contains("overdue by 3 min"));
        assert_eq!(decide(LOOKING, &callback(0)), None);
    }

    #[test]
    fn sync_notifies_only_on_a_change_for_the_worse() {
        let fine = (SyncHealth::Fine, 0);
        assert_eq!(decide(AWAY, &sync(fine, fine)), None);
        let offline = decide(AWAY, &sync(fine, (SyncHealth::Offline, 0))).unwrap();
        assert_eq!(offline.kind, NoticeKind::SyncProblem);
        assert!(offline.body.contains("cannot be reached"));
        // Still offline on the next retry: no second notice.
        assert_eq!(
            decide(
                AWAY,
                &sync((SyncHealth::Offline, 0), (SyncHealth::Offline, 0))
            ),
            None
        );
        // Back to fine: no notice.
        assert_eq!(decide(AWAY, &sync((SyncHealth::Offline, 0), fine)), None);
        // A new refused change notifies, fewer problems do not.
        assert!(decide(AWAY, &sync(fine, (SyncHealth::Fine, 2)))
            .unwrap()
            .body
            .contains("2 change"));
        assert_eq!(
            decide(AWAY, &sync((SyncHealth::Fine, 2), (SyncHealth::Fine, 1))),
            None
        );
        assert!(decide(AWAY, &sync(fine, (SyncHealth::SignedOut, 0)))
            .unwrap()
            .body
            .contains("signed out"));
        // The window shows the sync bar already.
        assert_eq!(decide(LOOKING, &sync(fine, (SyncHealth::Offline, 0))), None);
    }

    #[test]
    fn notices_in_chinese() {
        let ring = decide(AWAY_ZH, &ring()).unwrap();
        assert_eq!(ring.title, "来电");
        assert_eq!(ring.body, "张伟 +8613800138000");
        assert_eq!(
            ring.actions
                .iter()
                .map(|a| a.label(Language::ZhCn))
                .collect::<Vec<_>>(),
            vec!["接听", "拒接"]
        );
        let due = decide(AWAY_ZH, &callback(5)).unwrap();
        assert_eq!(due.title, "回电到期");
        assert_eq!(due.body, "Call back about the refund（5 分钟后到期）");
        assert_eq!(
            decide(AWAY_ZH, &callback(0)).unwrap().body,
            "Call back about the refund（现在到期）"
        );
        assert_eq!(
            decide(AWAY_ZH, &callback(-3)).unwrap().body,
            "Call back about the refund（已逾期 3 分钟）"
        );
        let fine = (SyncHealth::Fine, 0);
        let offline = decide(AWAY_ZH, &sync(fine, (SyncHealth::Offline, 0))).unwrap();
        assert_eq!(offline.title, "同步问题");
        assert_eq!(offline.body, "无法连接服务器，更改暂存在本机。");
        assert_eq!(
            decide(AWAY_ZH, &sync(fine, (SyncHealth::SignedOut, 0)))
                .unwrap()
                .body,
            "已登出，请重新登录以同步。"
        );
        assert_eq!(
            decide(AWAY_ZH, &sync(fine, (SyncHealth::Stopped, 0)))
                .unwrap()
                .body,
            "同步因错误而停止。"
        );
        assert_eq!(
            decide(AWAY_ZH, &sync(fine, (SyncHealth::Fine, 2)))
                .unwrap()
                .body,
            "2 项更改无法同步。"
        );
        // The same rules decide whether to notify in either language.
        assert_eq!(
            decide(
                NotifyPrefs {
                    window_focused: true,
                    ..AWAY_ZH
                },
                &callback(0)
            ),
            None
        );
    }

    #[test]
    fn action_labels_in_english() {
        assert_eq!(NoticeAction::Answer.label(Language::En), "Answer");
        assert_eq!(NoticeAction::Decline.label(Language::En), "Decline");
    }
}
