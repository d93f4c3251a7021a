//! Call recording (`[recording]` in settings.toml): off by default.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a data directory keeps its recordings unless `folder` says otherwise.
pub const DEFAULT_RECORDINGS_DIR: &str = "recordings";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingSettings {
    /// Record every answered call (both sides, stereo WAV with a JSON sidecar).
    pub enabled: bool,
    /// The recordings folder; `<data dir>/recordings` when unset.
    pub folder: Option<PathBuf>,
    /// What the far end hears while its call is recorded.
    pub notice: NoticeKind,
    /// The center's announcement (a WAV file) for `notice = "announcement"`.
    pub notice_file: Option<PathBuf>,
    /// Retention: recordings of calls older than this many days are deleted (at start and
    /// every few hours); 0 keeps them all.
    pub keep_days: u32,
}

/// The longest retention accepted (ten years); more is a typo.
pub const MAX_KEEP_DAYS: u32 = 3650;

/// The recording notice (crates/media `notice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    /// None: the PBX or IVR announces recording, or nothing must be said.
    #[default]
    Off,
    /// A 1400 Hz beep of 0.5 s every 15 s while recording.
    Tone,
    /// `notice_file`, once, when the recording starts.
    Announcement,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Off => "off",
            NoticeKind::Tone => "tone",
            NoticeKind::Announcement => "announcement",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        match s.trim() {
            "off" => Some(NoticeKind::Off),
            "tone" => Some(NoticeKind::Tone),
            "announcement" => Some(NoticeKind::Announcement),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordingSettingsError {
    #[error("invalid recording notice {0:?}: expected off, tone or announcement")]
    Notice(String),
    #[error("recording.notice = \"announcement\" needs recording.notice_file (a WAV file)")]
    AnnouncementWithoutFile,
    #[error("invalid recording.keep_days {0:?}: expected 0 (keep all) to 3650 days")]
    KeepDays(String),
}

impl RecordingSettings {
    /// The folder recordings go to for this data directory.
    pub fn folder_in(&self, data_dir: &Path) -> PathBuf {
        self.folder
            .clone()
            .unwrap_or_else(|| data_dir.join(DEFAULT_RECORDINGS_DIR))
    }

    /// The settings if they hold together: an announcement needs its file (a notice that
    /// cannot be played must not pass for one that is).
    pub fn validated(&self) -> Result<Self, RecordingSettingsError> {
        if self.notice == NoticeKind::Announcement && self.notice_file.is_none() {
            return Err(RecordingSettingsError::AnnouncementWithoutFile);
        }
        if self.keep_days > MAX_KEEP_DAYS {
            return Err(RecordingSettingsError::KeepDays(self.keep_days.to_string()));
        }
        Ok(self.clone())
    }

    /// The folder calls are recorded to now, or `None` when recording is off.
    pub fn active_folder(&self, data_dir: &Path) -> Option<PathBuf> {
        self.enabled.then(|| self.folder_in(data_dir))
    }
}
