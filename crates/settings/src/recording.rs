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
}

impl RecordingSettings {
    /// The folder recordings go to for this data directory.
    pub fn folder_in(&self, data_dir: &Path) -> PathBuf {
        self.folder
            .clone()
            .unwrap_or_else(|| data_dir.join(DEFAULT_RECORDINGS_DIR))
    }

    /// The folder calls are recorded to now, or `None` when recording is off.
    pub fn active_folder(&self, data_dir: &Path) -> Option<PathBuf> {
        self.enabled.then(|| self.folder_in(data_dir))
    }
}
