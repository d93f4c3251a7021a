//! Where Seatline keeps its data and what the agent chose in settings.
//!
//! The data directory is, in order: an explicit path (`--data-dir`), `SEATLINE_DATA_DIR`, or the
//! OS data directory. The settings file is TOML, written atomically; a file that does not parse
//! is never overwritten silently: it is set aside under a new name and reported.

mod audio;
mod data_dir;
mod desktop;
mod language;
mod queue_pause;
mod recording;
mod sync;

pub use audio::{AudioSettings, AudioSettingsError, DEFAULT_RING_VOLUME};
pub use data_dir::{resolve_data_dir, DataDirSource, ResolvedDataDir, DATA_DIR_ENV};
pub use desktop::{parse_accelerator, DesktopSettings, HotkeyAction, HotkeyError, Hotkeys};
pub use language::{Language, LanguagePref};
pub use queue_pause::{QueuePauseError, QueuePauseSettings, DEFAULT_QUEUE_PAUSE_TIMEOUT_SECS};
pub use recording::{
    NoticeKind, RecordingSettings, RecordingSettingsError, DEFAULT_RECORDINGS_DIR,
};
pub use sync::{SyncSettings, SyncSettingsError};

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The settings file's name inside the data directory.
pub const SETTINGS_FILE: &str = "settings.toml";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no data directory: the OS reports no home directory; pass --data-dir or set SEATLINE_DATA_DIR")]
    NoHomeDirectory,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode settings: {0}")]
    Encode(#[from] toml::ser::Error),
    #[error("unknown language {0:?}; expected system, zh-CN or en")]
    UnknownLanguage(String),
    #[error("unknown setting {0:?}; known: language, server_url, phone_region, area_code, recording.enabled, recording.folder, recording.notice, recording.notice_file, recording.keep_days, audio.input, audio.output, audio.ring, audio.ring_volume, audio.ringtone, sync.connect_timeout_secs, sync.read_timeout_secs, sync.request_timeout_secs")]
    UnknownKey(String),
    #[error("invalid server URL {0:?}: it must start with http:// or https://")]
    InvalidServerUrl(String),
    #[error("invalid phone region {0:?}: expected a two-letter ISO 3166 code such as CN")]
    InvalidRegion(String),
    #[error("invalid area code {0:?}: expected 1-4 digits without the trunk 0, e.g. 21")]
    InvalidAreaCode(String),
    #[error("invalid value {0:?} for recording.enabled: expected true or false")]
    InvalidBool(String),
    #[error(transparent)]
    Hotkey(#[from] HotkeyError),
    #[error(transparent)]
    Sync(#[from] SyncSettingsError),
    #[error(transparent)]
    QueuePause(#[from] QueuePauseError),
    #[error(transparent)]
    Audio(#[from] AudioSettingsError),
    #[error(transparent)]
    Recording(#[from] RecordingSettingsError),
}

/// What the agent chose. Secrets never live here: they go to the OS keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// UI language; `system` follows the OS.
    pub language: LanguagePref,
    /// The central server, once configured.
    pub server_url: Option<String>,
    /// Region of the center's own numbering plan: caller numbers without `+` are read in it
    /// (ISO 3166 code; `CN` when unset).
    pub phone_region: Option<String>,
    /// The center's area code without the trunk 0 (e.g. `21`), so bare local numbers match.
    pub area_code: Option<String>,
    /// Hotkeys, notifications and start at login (`[desktop]`).
    pub desktop: DesktopSettings,
    /// The PBX's queue pause/unpause feature codes, dialled on Not ready / Ready
    /// (`[queue_pause]`, off by default).
    pub queue_pause: QueuePauseSettings,
    /// Call recording (`[recording]`, off by default).
    pub recording: RecordingSettings,
    /// Sound devices for calls and the ringer, ring volume and tone (`[audio]`).
    pub audio: AudioSettings,
    /// How long sync waits on the central server (`[sync]`).
    pub sync: SyncSettings,
}

/// The region caller numbers are read in when none is configured.
pub const DEFAULT_PHONE_REGION: &str = "CN";

impl Settings {
    /// Sets one setting by name, as the CLI and scripts do.
    pub fn set_by_name(&mut self, key: &str, value: &str) -> Result<(), SettingsError> {
        match key {
            "language" => self.language = value.parse()?,
            "server_url" => {
                let value = value.trim();
                if value.is_empty() {
                    self.server_url = None;
                } else if value.starts_with("http://") || value.starts_with("https://") {
                    self.server_url = Some(value.trim_end_matches('/').to_owned());
                } else {
                    return Err(SettingsError::InvalidServerUrl(value.to_owned()));
                }
            }
            "phone_region" => {
                let value = value.trim();
                if value.is_empty() {
                    self.phone_region = None;
                } else if value.len() == 2 && value.chars().all(|c| c.is_ascii_alphabetic()) {
                    self.phone_region = Some(value.to_ascii_uppercase());
                } else {
                    return Err(SettingsError::InvalidRegion(value.to_owned()));
                }
            }
            "area_code" => {
                let value = value.trim().trim_start_matches('0');
                if value.is_empty() {
                    self.area_code = None;
                } else if value.len() <= 4 && value.chars().all(|c| c.is_ascii_digit()) {
                    self.area_code = Some(value.to_owned());
                } else {
                    return Err(SettingsError::InvalidAreaCode(value.to_owned()));
                }
            }
            "recording.enabled" => {
                self.recording.enabled = match value.trim() {
                    "true" | "on" | "1" => true,
                    "false" | "off" | "0" => false,
                    v => return Err(SettingsError::InvalidBool(v.to_owned())),
                }
            }
            "recording.folder" => {
                let value = value.trim();
                self.recording.folder = (!value.is_empty()).then(|| PathBuf::from(value));
            }
            "recording.notice" => {
                let mut next = self.recording.clone();
                next.notice = NoticeKind::parse(value)
                    .ok_or_else(|| RecordingSettingsError::Notice(value.to_owned()))?;
                self.recording = next.validated()?;
            }
            "recording.keep_days" => {
                let mut next = self.recording.clone();
                next.keep_days = value
                    .trim()
                    .parse()
                    .map_err(|_| RecordingSettingsError::KeepDays(value.to_owned()))?;
                self.recording = next.validated()?;
            }
            "recording.notice_file" => {
                let value = value.trim();
                let mut next = self.recording.clone();
                next.notice_file = (!value.is_empty()).then(|| PathBuf::from(value));
                self.recording = next.validated()?;
            }
            other => {
                let known = match (other.strip_prefix("audio."), other.strip_prefix("sync.")) {
                    (Some(field), _) => self.audio.set_field(field, value)?,
                    (_, Some(field)) => self.sync.set_field(field, value)?,
                    _ => false,
                };
                if !known {
                    return Err(SettingsError::UnknownKey(other.to_owned()));
                }
            }
        }
        Ok(())
    }

    /// Reads one setting by name, in the form `set_by_name` accepts.
    pub fn get_by_name(&self, key: &str) -> Result<String, SettingsError> {
        match key {
            "language" => Ok(self.language.to_string()),
            "server_url" => Ok(self.server_url.clone().unwrap_or_default()),
            "phone_region" => Ok(self
                .phone_region
                .clone()
                .unwrap_or_else(|| DEFAULT_PHONE_REGION.to_owned())),
            "area_code" => Ok(self.area_code.clone().unwrap_or_default()),
            "recording.enabled" => Ok(self.recording.enabled.to_string()),
            "recording.folder" => Ok(self
                .recording
                .folder
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()),
            "recording.notice" => Ok(self.recording.notice.as_str().to_owned()),
            "recording.keep_days" => Ok(self.recording.keep_days.to_string()),
            "recording.notice_file" => Ok(self
                .recording
                .notice_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()),
            other => match (other.strip_prefix("audio."), other.strip_prefix("sync.")) {
                (Some(field), _) => self.audio.get_field(field),
                (_, Some(field)) => self.sync.get_field(field),
                _ => None,
            }
            .ok_or_else(|| SettingsError::UnknownKey(other.to_owned())),
        }
    }
}

/// The outcome of loading: the settings, and whether a broken file had to be set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub settings: Settings,
    /// Set when the file did not parse: it was renamed to this path and defaults are in use.
    pub set_aside: Option<SetAside>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    pub moved_to: PathBuf,
    pub reason: String,
}

/// The settings file of one data directory.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    path: PathBuf,
}

impl SettingsStore {
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(SETTINGS_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the settings. A missing file gives defaults. A file that does not parse is renamed
    /// to `settings.toml.broken-N` (kept for the agent or support to inspect) and defaults are
    /// returned with a report, so a typo never silently loses the rest of the file.
    pub fn load(&self) -> Result<Loaded, SettingsError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    settings: Settings::default(),
                    set_aside: None,
                })
            }
            Err(source) => {
                return Err(SettingsError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let parsed = toml::from_str::<Settings>(&text)
            .map_err(|e| e.to_string())
            .and_then(|mut settings| {
                settings.queue_pause = settings
                    .queue_pause
                    .validated()
                    .map_err(|e| format!("[queue_pause]: {e}"))?;
                settings.audio = settings
                    .audio
                    .validated()
                    .map_err(|e| format!("[audio]: {e}"))?;
                settings.sync = settings
                    .sync
                    .validated()
                    .map_err(|e| format!("[sync]: {e}"))?;
                settings.recording = settings
                    .recording
                    .validated()
                    .map_err(|e| format!("[recording]: {e}"))?;
                Ok(settings)
            });
        match parsed {
            Ok(settings) => Ok(Loaded {
                settings,
                set_aside: None,
            }),
            Err(reason) => {
                let moved_to = self.free_broken_name();
                fs::rename(&self.path, &moved_to).map_err(|source| SettingsError::Write {
                    path: moved_to.clone(),
                    source,
                })?;
                tracing::warn!(path = %self.path.display(), moved_to = %moved_to.display(),
                    %reason, "settings file did not parse; set aside, using defaults");
                Ok(Loaded {
                    settings: Settings::default(),
                    set_aside: Some(SetAside { moved_to, reason }),
                })
            }
        }
    }

    /// Writes the settings atomically: a temporary file in the same directory, synced, then
    /// renamed over the old one, so a crash or a full disk leaves the previous file intact.
    pub fn save(&self, settings: &Settings) -> Result<(), SettingsError> {
        let text = toml::to_string_pretty(settings)?;
        let tmp = self.path.with_extension("toml.tmp");
        let write = |path: &Path| -> std::io::Result<()> {
            let mut file = fs::File::create(path)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        };
        if let Err(source) = write(&tmp) {
            // Best effort: a half-written temporary file is useless.
            let _ = fs::remove_file(&tmp);
            return Err(SettingsError::Write { path: tmp, source });
        }
        fs::rename(&tmp, &self.path).map_err(|source| SettingsError::Write {
            path: self.path.clone(),
            source,
        })
    }

    fn free_broken_name(&self) -> PathBuf {
        let mut n = 1u32;
        loop {
            let candidate = self.path.with_extension(format!("toml.broken-{n}"));
            if !candidate.exists() {
                return candidate;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = SettingsStore::in_data_dir(dir.path()).load().unwrap();
        assert_eq!(loaded.settings, Settings::default());
        assert_eq!(loaded.settings.language, LanguagePref::System);
        assert!(loaded.set_aside.is_none());
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        let mut settings = Settings::default();
        settings.set_by_name("language", "zh-CN").unwrap();
        settings
            .set_by_name("server_url", "https://pbx.example.test/")
            .unwrap();
        store.save(&settings).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.settings.language, LanguagePref::ZhCn);
        assert_eq!(
            loaded.settings.server_url.as_deref(),
            Some("https://pbx.example.test")
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![SETTINGS_FILE.to_owned()]);
    }

    #[test]
    fn broken_file_is_set_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        let broken = "language = \"zh-CN\"\nserver_url = [unterminated\n";
        fs::write(store.path(), broken).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.settings, Settings::default());
        let set_aside = loaded.set_aside.expect("a broken file is reported");
        assert!(set_aside.moved_to.ends_with("settings.toml.broken-1"));
        assert_eq!(fs::read_to_string(&set_aside.moved_to).unwrap(), broken);
        assert!(!store.path().exists());

        // A second broken file does not overwrite the first one set aside.
        fs::write(store.path(), "language = 42").unwrap();
        let again = store.load().unwrap().set_aside.unwrap();
        assert!(again.moved_to.ends_with("settings.toml.broken-2"));
        assert_eq!(fs::read_to_string(&set_aside.moved_to).unwrap(), broken);
    }

    #[test]
    fn unknown_keys_in_file_are_an_error_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        fs::write(store.path(), "languag = \"en\"\n").unwrap();
        let loaded = store.load().unwrap();
        let reason = loaded.set_aside.unwrap().reason;
        assert!(reason.contains("languag"), "{reason}");
    }

    #[test]
    fn set_by_name_rejects_bad_values_with_clear_errors() {
        let mut settings = Settings::default();
        let err = settings.set_by_name("language", "klingon").unwrap_err();
        assert!(err.to_string().contains("klingon"));
        let err = settings.set_by_name("colour", "red").unwrap_err();
        assert!(matches!(err, SettingsError::UnknownKey(_)));
        let err = settings.set_by_name("server_url", "ftp://x").unwrap_err();
        assert!(matches!(err, SettingsError::InvalidServerUrl(_)));
        settings.set_by_name("server_url", "http://a").unwrap();
        settings.set_by_name("server_url", "").unwrap();
        assert_eq!(settings.server_url, None);
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn get_by_name_matches_set_by_name() {
        let mut settings = Settings::default();
        settings.set_by_name("language", "en").unwrap();
        assert_eq!(settings.get_by_name("language").unwrap(), "en");
        assert_eq!(settings.get_by_name("server_url").unwrap(), "");
        assert!(settings.get_by_name("nope").is_err());
    }

    #[test]
    fn phone_region_and_area_code_are_checked_and_normalised() {
        let mut settings = Settings::default();
        assert_eq!(settings.get_by_name("phone_region").unwrap(), "CN");
        settings.set_by_name("phone_region", "hk").unwrap();
        assert_eq!(settings.phone_region.as_deref(), Some("HK"));
        let err = settings.set_by_name("phone_region", "China").unwrap_err();
        assert!(matches!(err, SettingsError::InvalidRegion(_)));
        // Agents write the area code as they dial it, with the trunk 0.
        settings.set_by_name("area_code", "021").unwrap();
        assert_eq!(settings.get_by_name("area_code").unwrap(), "21");
        let err = settings.set_by_name("area_code", "21x").unwrap_err();
        assert!(matches!(err, SettingsError::InvalidAreaCode(_)));
        settings.set_by_name("area_code", "").unwrap();
        assert_eq!(settings.area_code, None);
    }

    #[test]
    fn the_sync_timeouts_are_set_by_name_saved_and_a_bad_section_sets_the_file_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        let mut settings = Settings::default();
        settings
            .set_by_name("sync.request_timeout_secs", "120")
            .unwrap();
        settings
            .set_by_name("sync.read_timeout_secs", "60")
            .unwrap();
        let err = settings
            .set_by_name("sync.connect_timeout_secs", "0")
            .unwrap_err();
        assert!(matches!(err, SettingsError::Sync(_)), "{err}");
        assert!(matches!(
            settings.set_by_name("sync.write_timeout_secs", "5"),
            Err(SettingsError::UnknownKey(_))
        ));
        store.save(&settings).unwrap();
        let loaded = store.load().unwrap().settings;
        assert_eq!(loaded.get_by_name("sync.read_timeout_secs").unwrap(), "60");
        assert_eq!(loaded.sync, settings.sync);
        assert_eq!(loaded.sync.connect_timeout_secs, 5);

        fs::write(
            store.path(),
            "[sync]\nread_timeout_secs = 90\nrequest_timeout_secs = 30\n",
        )
        .unwrap();
        let loaded = store.load().unwrap();
        let aside = loaded.set_aside.unwrap();
        assert!(aside.reason.contains("[sync]"), "{}", aside.reason);
        assert_eq!(loaded.settings.sync, SyncSettings::default());
    }

    #[test]
    fn the_queue_pause_section_round_trips_and_a_bad_code_sets_the_file_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        fs::write(
            store.path(),
            "[queue_pause]\nenabled = true\npause = \"*62\"\nunpause = \"*63\"\n\
             timeout_secs = 3\n[queue_pause.reasons]\nlunch = \"*6202\"\n",
        )
        .unwrap();
        let q = store.load().unwrap().settings.queue_pause;
        assert!(q.enabled);
        assert_eq!(q.pause.as_deref(), Some("*62"));
        assert_eq!(q.unpause.as_deref(), Some("*63"));
        assert_eq!(q.pause_code("lunch"), Some("*6202"));
        assert_eq!(q.timeout_secs, 3);
        let settings = Settings {
            queue_pause: q.clone(),
            ..Settings::default()
        };
        store.save(&settings).unwrap();
        assert_eq!(store.load().unwrap().settings.queue_pause, q);

        fs::write(store.path(), "[queue_pause]\npause = \"*6 2\"\n").unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.settings, Settings::default());
        let reason = loaded.set_aside.unwrap().reason;
        assert!(
            reason.contains("queue_pause") && reason.contains("*6 2"),
            "{reason}"
        );
    }

    #[test]
    fn the_recording_section_round_trips_and_defaults_to_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        let mut settings = store.load().unwrap().settings;
        assert_eq!(settings.recording.active_folder(dir.path()), None);
        settings.set_by_name("recording.enabled", "true").unwrap();
        assert_eq!(
            settings.recording.active_folder(dir.path()),
            Some(dir.path().join("recordings"))
        );
        settings
            .set_by_name("recording.folder", "/srv/rec")
            .unwrap();
        store.save(&settings).unwrap();
        let back = store.load().unwrap().settings;
        assert_eq!(back.get_by_name("recording.folder").unwrap(), "/srv/rec");
        assert_eq!(back.get_by_name("recording.enabled").unwrap(), "true");
        assert!(matches!(
            settings.set_by_name("recording.enabled", "maybe"),
            Err(SettingsError::InvalidBool(_))
        ));
        // A file from before the section existed still loads.
        fs::write(store.path(), "language = \"en\"\n").unwrap();
        assert!(!store.load().unwrap().settings.recording.enabled);
    }

    #[test]
    fn the_recording_notice_needs_its_file_for_an_announcement() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        let mut settings = store.load().unwrap().settings;
        assert_eq!(settings.get_by_name("recording.notice").unwrap(), "off");
        settings.set_by_name("recording.notice", "tone").unwrap();
        let refused = settings
            .set_by_name("recording.notice", "announcement")
            .unwrap_err();
        assert!(
            refused.to_string().contains("needs recording.notice_file"),
            "{refused}"
        );
        assert_eq!(settings.get_by_name("recording.notice").unwrap(), "tone");
        assert!(matches!(
            settings.set_by_name("recording.notice", "loud"),
            Err(SettingsError::Recording(RecordingSettingsError::Notice(_)))
        ));
        settings
            .set_by_name("recording.notice_file", "/srv/notice.wav")
            .unwrap();
        settings
            .set_by_name("recording.notice", "announcement")
            .unwrap();
        // The file cannot go while the announcement needs it.
        assert!(settings.set_by_name("recording.notice_file", "").is_err());
        // Retention: days, 0 keeps all; nonsense and ten years and more refused.
        assert_eq!(settings.get_by_name("recording.keep_days").unwrap(), "0");
        settings.set_by_name("recording.keep_days", "90").unwrap();
        for bad in ["-1", "ninety", "3651"] {
            assert!(
                settings.set_by_name("recording.keep_days", bad).is_err(),
                "{bad}"
            );
        }
        assert_eq!(settings.get_by_name("recording.keep_days").unwrap(), "90");
        store.save(&settings).unwrap();
        let back = store.load().unwrap();
        assert!(back.set_aside.is_none());
        assert_eq!(back.settings.recording.notice, NoticeKind::Announcement);
        assert_eq!(
            back.settings.get_by_name("recording.notice_file").unwrap(),
            "/srv/notice.wav"
        );
        // A hand-edited file that asks for an announcement without one is set aside, not
        // silently left without its notice.
        fs::write(
            store.path(),
            "[recording]\nenabled = true\nnotice = \"announcement\"\n",
        )
        .unwrap();
        let loaded = store.load().unwrap();
        let aside = loaded.set_aside.expect("set aside");
        assert!(aside.reason.contains("[recording]"), "{}", aside.reason);
    }

    #[test]
    fn the_audio_section_round_trips_and_a_bad_volume_sets_the_file_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        let mut settings = store.load().unwrap().settings;
        assert_eq!(settings.get_by_name("audio.ring_volume").unwrap(), "80");
        assert_eq!(settings.get_by_name("audio.input").unwrap(), "");
        settings
            .set_by_name("audio.input", "alsa:hw:CARD=Headset,DEV=0")
            .unwrap();
        settings
            .set_by_name("audio.output", "alsa:hw:CARD=Headset,DEV=0")
            .unwrap();
        settings.set_by_name("audio.ring", "alsa:default").unwrap();
        settings.set_by_name("audio.ring_volume", "35").unwrap();
        settings
            .set_by_name("audio.ringtone", "/srv/tones/ring.wav")
            .unwrap();
        store.save(&settings).unwrap();
        let back = store.load().unwrap().settings;
        assert_eq!(back, settings);
        for (key, value) in [
            ("audio.input", "alsa:hw:CARD=Headset,DEV=0"),
            ("audio.output", "alsa:hw:CARD=Headset,DEV=0"),
            ("audio.ring", "alsa:default"),
            ("audio.ring_volume", "35"),
            ("audio.ringtone", "/srv/tones/ring.wav"),
        ] {
            assert_eq!(back.get_by_name(key).unwrap(), value, "{key}");
        }
        assert!(matches!(
            settings.set_by_name("audio.ring_volume", "150"),
            Err(SettingsError::Audio(AudioSettingsError::RingVolume(_)))
        ));
        assert!(matches!(
            settings.set_by_name("audio.speaker", "x"),
            Err(SettingsError::UnknownKey(_))
        ));
        assert!(settings.get_by_name("audio.speaker").is_err());

        fs::write(store.path(), "[audio]\nring_volume = 250\n").unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.settings, Settings::default());
        let reason = loaded.set_aside.unwrap().reason;
        assert!(
            reason.contains("audio") && reason.contains("250"),
            "{reason}"
        );
        // A file from before the section existed loads with the defaults.
        fs::write(store.path(), "language = \"en\"\n").unwrap();
        assert_eq!(
            store.load().unwrap().settings.audio,
            AudioSettings::default()
        );
    }

    #[test]
    fn failed_save_reports_the_path_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::in_data_dir(dir.path());
        let mut settings = Settings::default();
        settings.set_by_name("language", "en").unwrap();
        store.save(&settings).unwrap();
        // A directory where the temporary file should go makes the write fail, as a full or
        // read-only disk would (this holds for root too, unlike permission bits).
        fs::create_dir(store.path().with_extension("toml.tmp")).unwrap();
        settings.set_by_name("language", "zh-CN").unwrap();
        let err = store.save(&settings).unwrap_err();
        assert!(matches!(err, SettingsError::Write { .. }));
        assert!(err.to_string().contains("settings.toml.tmp"), "{err}");
        assert_eq!(store.load().unwrap().settings.language, LanguagePref::En);
    }
}
