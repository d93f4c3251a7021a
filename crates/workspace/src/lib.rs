//! The agent's workspace session, shared by the desktop shell and the `seatline` CLI: it opens
//! the data directory, loads settings, owns the agent state machine and reports the status the
//! status bar shows. Neither front end holds logic of its own.

pub mod account;
pub mod call_log;
pub mod call_quality;
pub mod call_sync;
pub mod desk;
pub mod host;
pub mod kb_sync;
pub mod playbook;
pub mod quality_report;
pub mod screen_pop;
mod server_api;

pub use desk::{Desk, DeskError};

use seatline_agent_state::{AgentEvent, AgentMachine, AgentPolicy, AgentState, Millis};
use seatline_kb_search::{IndexOptions, KbIndex};
use seatline_secrets::SecretStore;
use seatline_settings::{Language, LanguagePref, ResolvedDataDir, Settings, SettingsStore};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

pub use seatline_agent_state::TransitionError;
pub use seatline_settings::SettingsError;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    AgentState(#[from] TransitionError),
    #[error("the knowledge base is not available: {0}")]
    KbUnavailable(String),
    #[error(transparent)]
    Kb(#[from] seatline_kb_search::Error),
}

/// Something the agent should know about that happened while opening the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The settings file did not parse; it was kept under another name.
    SettingsSetAside { moved_to: PathBuf, reason: String },
    /// The local knowledge-base index could not be opened; search is off until it is rebuilt.
    KbUnavailable { reason: String },
}

/// What the app is and where it keeps its data.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub version: &'static str,
    pub data_dir: PathBuf,
    pub data_dir_source: String,
    pub settings_file: PathBuf,
    pub language_pref: LanguagePref,
    pub language: Language,
    pub os_locale: Option<String>,
    pub notices: Vec<Notice>,
}

/// The softphone's registration, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PhoneStatus {
    /// No SIP account is set up yet.
    NotConfigured,
}

/// The work-order sync, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    /// No central server is set up: work stays on this machine.
    NotConfigured,
    /// A server is set up but this build has no sync client connected to it yet.
    NotConnected { server_url: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub state: AgentState,
    pub since: Millis,
    pub pending_not_ready: Option<String>,
    pub not_ready_reasons: Vec<String>,
    /// When after-call work ends by itself (its time box), while the agent is in it.
    pub after_call_work_ends_at: Option<Millis>,
    /// The PBX did not take the last queue pause/unpause feature code (`[queue_pause]`):
    /// why, for the agent. The state above changed anyway.
    pub queue_pause_warning: Option<String>,
}

/// Everything the status bar shows, in one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceStatus {
    pub agent: AgentView,
    pub phone: PhoneStatus,
    pub sync: SyncStatus,
    /// Articles in the local knowledge base (0 when it is empty or unavailable).
    pub kb_articles: u64,
}

pub struct Workspace {
    data_dir: ResolvedDataDir,
    store: SettingsStore,
    settings: Settings,
    notices: Vec<Notice>,
    os_locale: Option<String>,
    agent: AgentMachine,
    secrets: Arc<dyn SecretStore>,
    kb: Result<Arc<KbIndex>, String>,
    queue_pause_warning: Option<String>,
}

impl Workspace {
    /// Opens the workspace in a resolved data directory at `now` (ms since the epoch).
    pub fn open(
        data_dir: ResolvedDataDir,
        os_locale: Option<String>,
        secrets: Arc<dyn SecretStore>,
        now: Millis,
    ) -> Result<Self, WorkspaceError> {
        let store = SettingsStore::in_data_dir(&data_dir.path);
        let loaded = store.load()?;
        let mut notices: Vec<Notice> = loaded
            .set_aside
            .map(|s| Notice::SettingsSetAside {
                moved_to: s.moved_to,
                reason: s.reason,
            })
            .into_iter()
            .collect();
        // A broken index must not keep the agent out of the workspace: report it, go on.
        let kb = KbIndex::open_or_create(&data_dir.path.join("kb"), IndexOptions::default())
            .map(Arc::new)
            .map_err(|e| e.to_string());
        if let Err(reason) = &kb {
            tracing::warn!(%reason, "knowledge base unavailable");
            notices.push(Notice::KbUnavailable {
                reason: reason.clone(),
            });
        }
        tracing::info!(data_dir = %data_dir.path.display(), source = %data_dir.source,
            "workspace opened");
        Ok(Self {
            data_dir,
            store,
            settings: loaded.settings,
            notices,
            os_locale,
            agent: AgentMachine::new(AgentPolicy::default(), now),
            secrets,
            kb,
            queue_pause_warning: None,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn secrets(&self) -> &dyn SecretStore {
        self.secrets.as_ref()
    }

    /// The local knowledge-base index (shared: searches run without holding the workspace).
    pub fn kb(&self) -> Result<Arc<KbIndex>, WorkspaceError> {
        self.kb.clone().map_err(WorkspaceError::KbUnavailable)
    }

    pub fn language(&self) -> Language {
        self.settings.language.resolve(self.os_locale.as_deref())
    }

    pub fn info(&self) -> AppInfo {
        AppInfo {
            version: env!("CARGO_PKG_VERSION"),
            data_dir: self.data_dir.path.clone(),
            data_dir_source: self.data_dir.source.to_string(),
            settings_file: self.store.path().to_path_buf(),
            language_pref: self.settings.language,
            language: self.language(),
            os_locale: self.os_locale.clone(),
            notices: self.notices.clone(),
        }
    }

    pub fn status(&self) -> WorkspaceStatus {
        WorkspaceStatus {
            agent: self.agent_view(),
            phone: PhoneStatus::NotConfigured,
            sync: match &self.settings.server_url {
                None => SyncStatus::NotConfigured,
                Some(url) => SyncStatus::NotConnected {
                    server_url: url.clone(),
                },
            },
            kb_articles: self.kb.as_ref().map_or(0, |kb| kb.num_docs()),
        }
    }

    fn agent_view(&self) -> AgentView {
        AgentView {
            state: self.agent.state().clone(),
            since: self.agent.since(),
            pending_not_ready: self.agent.pending_not_ready().map(str::to_owned),
            not_ready_reasons: self.agent.policy().not_ready_reasons.clone(),
            after_call_work_ends_at: self.agent.after_call_work_deadline(),
            queue_pause_warning: self.queue_pause_warning.clone(),
        }
    }

    /// Records how the last queue pause/unpause code went (`None`: the PBX took it) and
    /// returns the view the window shows.
    pub fn set_queue_pause_warning(&mut self, warning: Option<String>) -> AgentView {
        self.queue_pause_warning = warning;
        self.agent_view()
    }

    /// Changes one setting by name and saves the file; on a failed save nothing changes.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<&Settings, WorkspaceError> {
        let mut next = self.settings.clone();
        next.set_by_name(key, value)?;
        self.store.save(&next)?;
        self.settings = next;
        Ok(&self.settings)
    }

    /// The desktop habits: hotkeys, notifications, start at login.
    pub fn desktop(&self) -> &seatline_settings::DesktopSettings {
        &self.settings.desktop
    }

    /// Checks the desktop section (hotkeys parse and do not clash), saves it and returns it in
    /// canonical form; on an invalid hotkey or a failed save nothing changes.
    pub fn set_desktop(
        &mut self,
        desktop: &seatline_settings::DesktopSettings,
    ) -> Result<seatline_settings::DesktopSettings, WorkspaceError> {
        let mut next = self.settings.clone();
        next.desktop = desktop.validated().map_err(SettingsError::from)?;
        self.store.save(&next)?;
        self.settings = next;
        Ok(self.settings.desktop.clone())
    }

    /// Checks the `[sync]` timeouts (ranges, a request at least as long as its silence), saves
    /// them and returns them; on an invalid value or a failed save nothing changes.
    pub fn set_sync(
        &mut self,
        sync: &seatline_settings::SyncSettings,
    ) -> Result<seatline_settings::SyncSettings, WorkspaceError> {
        let mut next = self.settings.clone();
        next.sync = sync.validated().map_err(SettingsError::from)?;
        self.store.save(&next)?;
        self.settings = next;
        Ok(self.settings.sync)
    }

    /// Checks the `[recording]` section (an announcement needs its file), saves it and returns
    /// it; on an invalid value or a failed save nothing changes.
    pub fn set_recording(
        &mut self,
        recording: &seatline_settings::RecordingSettings,
    ) -> Result<seatline_settings::RecordingSettings, WorkspaceError> {
        let mut next = self.settings.clone();
        next.recording = recording.validated().map_err(SettingsError::from)?;
        self.store.save(&next)?;
        self.settings = next;
        Ok(self.settings.recording.clone())
    }

    /// Checks the audio section (device ids, ring volume 0-100, a .wav ringtone), saves it and
    /// returns it normalised; on an invalid value or a failed save nothing changes.
    pub fn set_audio(
        &mut self,
        audio: &seatline_settings::AudioSettings,
    ) -> Result<seatline_settings::AudioSettings, WorkspaceError> {
        let mut next = self.settings.clone();
        next.audio = audio.validated().map_err(SettingsError::from)?;
        self.store.save(&next)?;
        self.settings = next;
        Ok(self.settings.audio.clone())
    }

    /// Sets the UI language preference, saves it and returns the language now shown.
    pub fn set_language(&mut self, pref: LanguagePref) -> Result<Language, WorkspaceError> {
        self.set_setting("language", &pref.to_string())?;
        Ok(self.language())
    }

    pub fn agent_event(
        &mut self,
        event: AgentEvent,
        now: Millis,
    ) -> Result<AgentView, WorkspaceError> {
        self.agent.apply(event, now)?;
        Ok(self.agent_view())
    }

    /// Lets time pass for the agent state (the after-call-work time box); the new view when
    /// the state changed.
    pub fn agent_tick(&mut self, now: Millis) -> Option<AgentView> {
        self.agent.tick(now).then(|| self.agent_view())
    }

    /// Takes the center's playbook: its Not-ready reasons and after-call-work time box; the
    /// new view (the status bar's reason list changes with it).
    pub fn set_playbook(&mut self, book: &seatline_playbook::Playbook) -> AgentView {
        self.agent.set_policy(playbook::agent_policy(book));
        self.agent_view()
    }

    /// Every state the agent was in this session, oldest first (for the server's history).
    pub fn agent_history(&self) -> &[seatline_agent_state::HistoryEntry] {
        self.agent.history()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatline_secrets::MemoryStore;
    use seatline_settings::resolve_data_dir;

    fn open(dir: &std::path::Path, locale: Option<&str>) -> Workspace {
        let data_dir = resolve_data_dir(Some(dir), None).unwrap();
        Workspace::open(
            data_dir,
            locale.map(str::to_owned),
            Arc::new(MemoryStore::new()),
            10,
        )
        .unwrap()
    }

    #[test]
    fn fresh_workspace_follows_the_os_language_and_reports_honest_status() {
        let dir = tempfile::tempdir().unwrap();
        let ws = open(dir.path(), Some("zh_CN.UTF-8"));
        let info = ws.info();
        assert_eq!(info.language, Language::ZhCn);
        assert_eq!(info.language_pref, LanguagePref::System);
        assert_eq!(info.data_dir, dir.path());
        assert!(info.notices.is_empty());
        let status = ws.status();
        assert_eq!(status.phone, PhoneStatus::NotConfigured);
        assert_eq!(status.sync, SyncStatus::NotConfigured);
        assert_eq!(status.agent.state.label(), "not_ready");
        assert_eq!(status.agent.since, 10);
    }

    #[test]
    fn language_choice_persists_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = open(dir.path(), Some("zh-CN"));
        assert_eq!(ws.set_language(LanguagePref::En).unwrap(), Language::En);
        let ws = open(dir.path(), Some("zh-CN"));
        assert_eq!(ws.language(), Language::En);
    }

    #[test]
    fn desktop_settings_are_validated_saved_and_kept_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = open(dir.path(), None);
        assert!(ws.desktop().notifications);
        let mut desktop = ws.desktop().clone();
        desktop.start_at_login = true;
        desktop.hotkeys.answer = Some("ctrl+shift+f1".into());
        let saved = ws.set_desktop(&desktop).unwrap();
        assert_eq!(saved.hotkeys.answer.as_deref(), Some("Ctrl+Shift+F1"));
        // A clash is refused and changes nothing, on disk or in memory.
        let mut clash = saved.clone();
        clash.hotkeys.hold = Some("Ctrl+Shift+F1".into());
        clash.start_at_login = false;
        let error = ws.set_desktop(&clash).unwrap_err();
        assert!(
            matches!(error, WorkspaceError::Settings(SettingsError::Hotkey(_))),
            "{error}"
        );
        assert!(ws.desktop().start_at_login);
        let ws = open(dir.path(), None);
        assert_eq!(ws.desktop(), &saved);
    }

    #[test]
    fn server_url_changes_the_sync_status() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = open(dir.path(), None);
        ws.set_setting("server_url", "http://127.0.0.1:8080")
            .unwrap();
        assert_eq!(
            ws.status().sync,
            SyncStatus::NotConnected {
                server_url: "http://127.0.0.1:8080".into()
            }
        );
        assert!(ws.set_setting("server_url", "nonsense").is_err());
        assert_eq!(
            ws.settings().server_url.as_deref(),
            Some("http://127.0.0.1:8080")
        );
    }

    #[test]
    fn broken_settings_become_a_notice() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("settings.toml"), "language = [").unwrap();
        let ws = open(dir.path(), None);
        let notices = ws.info().notices;
        assert_eq!(notices.len(), 1);
        let json = serde_json::to_value(&notices[0]).unwrap();
        assert_eq!(json["kind"], "settings_set_aside");
    }

    #[test]
    fn the_knowledge_base_opens_empty_and_a_broken_one_is_a_notice() {
        let dir = tempfile::tempdir().unwrap();
        let ws = open(dir.path(), None);
        assert!(ws.kb().unwrap().search("退款", 5).unwrap().is_empty());
        drop(ws);
        // A file where the index folder should be.
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("kb"), b"not a folder").unwrap();
        let ws = open(other.path(), None);
        assert!(matches!(ws.kb(), Err(WorkspaceError::KbUnavailable(_))));
        let json = serde_json::to_value(&ws.info().notices).unwrap();
        assert_eq!(json[0]["kind"], "kb_unavailable");
    }

    #[test]
    fn agent_events_flow_through_and_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = open(dir.path(), None);
        let view = ws.agent_event(AgentEvent::SetReady, 20).unwrap();
        assert_eq!(view.state, AgentState::Ready);
        let err = ws
            .agent_event(
                AgentEvent::SetNotReady {
                    reason: "nap".into(),
                },
                30,
            )
            .unwrap_err();
        assert!(err.to_string().contains("nap"));
        assert_eq!(ws.status().agent.state, AgentState::Ready);
    }

    #[test]
    fn a_queue_pause_warning_shows_in_the_agent_view_until_a_code_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = open(dir.path(), None);
        assert_eq!(ws.status().agent.queue_pause_warning, None);
        assert!(!ws.settings().queue_pause.enabled);
        let view = ws.set_queue_pause_warning(Some("the PBX refused the pause code *62".into()));
        assert_eq!(
            view.queue_pause_warning.as_deref(),
            Some("the PBX refused the pause code *62")
        );
        // The state still changes; the warning stays until a code is taken.
        let view = ws.agent_event(AgentEvent::SetReady, 20).unwrap();
        assert_eq!(view.state, AgentState::Ready);
        assert!(view.queue_pause_warning.is_some());
        assert_eq!(ws.set_queue_pause_warning(None).queue_pause_warning, None);
    }
}
