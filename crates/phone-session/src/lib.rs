//! The desktop app's phone, Tauri-free: which SIP account the agent set up (saved without its
//! password in `phone-account.json`), the password in the OS keychain, and the one running
//! phone whose events go to the window. The shell's phone commands are thin calls into this.

pub mod queue_pause;

use seatline_ringer::{PlayerNotice, Ringer, RingerNotice, RingerSetup, SharedSetup, ToneOutput};
use seatline_secrets::{Secret, SecretName, SecretStore, SecretsError};
use seatline_settings::AudioSettings;
use seatline_sip_phone::{
    AccountConfig, AudioIo, MediaEncryption, Phone, PhoneConfig, PhoneEvent, PhoneHandle,
    RecordingNotice, SipTransport,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Mutex;

const ACCOUNT_FILE: &str = "phone-account.json";

/// The account as the agent enters it in the phone panel. No password here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneAccount {
    /// PBX / SIP domain, `host` or `host:port`.
    pub domain: String,
    pub user: String,
    #[serde(default)]
    pub auth_user: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub transport: SipTransport,
    #[serde(default)]
    pub outbound_proxy: Option<String>,
    /// Queue agents: answer by itself after this many ms.
    #[serde(default)]
    pub auto_answer_ms: Option<u64>,
    /// SRTP for calls: off, optional or required (accounts saved before it read as off).
    #[serde(default)]
    pub media_encryption: MediaEncryption,
}

impl PhoneAccount {
    fn validate(&self) -> Result<(), SessionError> {
        let bad = |what: &str| Err(SessionError::Invalid(what.to_string()));
        if self.domain.trim().is_empty() || self.domain.contains(char::is_whitespace) {
            return bad("the PBX address is missing or has spaces");
        }
        if self.user.trim().is_empty()
            || self
                .user
                .contains(|c: char| c.is_whitespace() || c == '@' || c == ':')
        {
            return bad("the extension is missing or has spaces, '@' or ':'");
        }
        if self.auto_answer_ms.is_some_and(|ms| ms > 60_000) {
            return bad("auto-answer delay over 60 s");
        }
        Ok(())
    }

    fn secret_name(&self) -> Result<SecretName, SessionError> {
        Ok(SecretName::sip_password(&self.user, &self.domain)?)
    }

    fn to_config(&self) -> AccountConfig {
        AccountConfig {
            id: "default".into(),
            user: self.user.trim().to_string(),
            auth_user: self.auth_user.clone().filter(|a| !a.trim().is_empty()),
            display_name: self.display_name.clone().filter(|d| !d.trim().is_empty()),
            domain: self.domain.trim().to_string(),
            transport: self.transport,
            outbound_proxy: self.outbound_proxy.clone().filter(|p| !p.trim().is_empty()),
            auto_answer_ms: self.auto_answer_ms,
            media_encryption: self.media_encryption,
            ..AccountConfig::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Invalid(String),
    #[error("no password stored for this account: enter it once to save it in the keychain")]
    NoPassword,
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("cannot save the phone account in {path}: {source}")]
    Save {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the saved phone account in {path} is unreadable ({reason}); set it up again")]
    Broken { path: PathBuf, reason: String },
    #[error("the phone is not connected")]
    NotConnected,
    #[error(transparent)]
    Phone(#[from] seatline_sip_phone::PhoneError),
}

/// Whether the notice `[recording]` asks for can be played: an announcement file that is
/// missing or not a WAV is refused with the reason, before it would fail on a call.
pub fn check_recording_notice(
    settings: &seatline_settings::RecordingSettings,
) -> Result<(), String> {
    let notice = recording_notice(settings);
    seatline_media::notice::NoticePlayer::new(&notice, 8000)
        .map(|_| ())
        .map_err(|e| match &notice {
            RecordingNotice::Announcement(path) => {
                format!(
                    "the recording announcement {} cannot be played: {e}",
                    path.display()
                )
            }
            _ => e.to_string(),
        })
}

/// The notice `[recording]` asks for. An announcement without its file cannot come from a
/// loaded settings file (it is set aside), so it falls back to the tone rather than silence.
pub fn recording_notice(settings: &seatline_settings::RecordingSettings) -> RecordingNotice {
    use seatline_settings::NoticeKind;
    match (settings.notice, &settings.notice_file) {
        (NoticeKind::Off, _) => RecordingNotice::Off,
        (NoticeKind::Tone, _) | (NoticeKind::Announcement, None) => RecordingNotice::Tone,
        (NoticeKind::Announcement, Some(file)) => RecordingNotice::Announcement(file.clone()),
    }
}

pub struct PhoneSession {
    data_dir: PathBuf,
    secrets: Arc<dyn SecretStore>,
    /// Where calls' sound goes; the device ids follow `[audio]` (`apply_audio_settings`).
    audio: std::sync::Mutex<AudioIo>,
    /// Where and how incoming calls ring; `None` without sound devices.
    ringer: SharedSetup,
    /// Asks the running phone's ringer to fall silent (`silence_ringer`).
    silence: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<()>>>,
    running: Mutex<Option<PhoneHandle>>,
    /// When the OS keychain is unavailable (a Linux desktop without a Secret Service), the
    /// password typed this session is kept in memory only — never written to a file.
    session_password: std::sync::Mutex<Option<(String, String)>>,
    /// Where calls are recorded (`[recording]` in the settings); `None`: not recorded.
    /// Where calls are recorded (`None`: off) and what the far end hears meanwhile.
    recording: std::sync::Mutex<(Option<PathBuf>, RecordingNotice)>,
}

impl PhoneSession {
    /// `audio`: where calls' sound comes from and goes to (devices in the app, files in tests).
    pub fn new(data_dir: &Path, secrets: Arc<dyn SecretStore>, audio: AudioIo) -> Self {
        let ringer = Arc::new(std::sync::Mutex::new(ringer_setup(
            &audio,
            &AudioSettings::default(),
        )));
        PhoneSession {
            data_dir: data_dir.to_path_buf(),
            secrets,
            audio: std::sync::Mutex::new(audio),
            ringer,
            silence: std::sync::Mutex::new(None),
            running: Mutex::new(None),
            session_password: std::sync::Mutex::new(None),
            recording: std::sync::Mutex::new((None, RecordingNotice::Off)),
        }
    }

    /// Records the calls of the phone started by the next `connect` to `dir` (`None`: off),
    /// with `notice` played to the far end.
    pub fn set_call_recording(&self, dir: Option<PathBuf>, notice: RecordingNotice) {
        if let Ok(mut g) = self.recording.lock() {
            *g = (dir, notice);
        }
    }

    /// `set_call_recording`, and the running phone records its next calls so (no reconnect).
    pub async fn apply_call_recording(&self, dir: Option<PathBuf>, notice: RecordingNotice) {
        self.set_call_recording(dir.clone(), notice.clone());
        if let Some(phone) = self.running.lock().await.as_ref() {
            if let Err(e) = phone.set_recording(dir, notice) {
                tracing::warn!(error = %e, "recording settings not passed to the phone");
            }
        }
    }

    /// Applies the `[audio]` settings: the devices of every call whose media starts from now
    /// on (the running phone too, without reconnecting) and the ringer's device, volume and
    /// tone for the next ring. A phone without sound devices (`AudioIo::Null`, files in tests)
    /// keeps its audio and has no ringer.
    pub async fn apply_audio_settings(&self, settings: &AudioSettings) {
        let audio = self.set_audio_settings(settings);
        if let Some(phone) = self.running.lock().await.as_ref() {
            if let Err(e) = phone.set_audio(audio) {
                tracing::warn!(error = %e, "sound devices not passed to the phone");
            }
        }
    }

    /// `apply_audio_settings` before any phone runs (at start); returns the calls' audio.
    pub fn set_audio_settings(&self, settings: &AudioSettings) -> AudioIo {
        let audio = {
            let mut g = self.audio.lock().unwrap_or_else(|e| e.into_inner());
            if let AudioIo::Devices { input, output } = &mut *g {
                input.clone_from(&settings.input);
                output.clone_from(&settings.output);
            }
            g.clone()
        };
        if let Ok(mut g) = self.ringer.lock() {
            *g = ringer_setup(&audio, settings);
        }
        audio
    }

    /// Silences the ring of the calls ringing now (they keep ringing on screen and can still
    /// be answered); the next call rings again.
    pub fn silence_ringer(&self) {
        if let Some(tx) = self.silence.lock().ok().and_then(|g| g.clone()) {
            let _ = tx.send(());
        }
    }

    /// Where calls' sound goes now.
    pub fn audio(&self) -> AudioIo {
        self.audio.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn account_path(&self) -> PathBuf {
        self.data_dir.join(ACCOUNT_FILE)
    }

    /// The account saved by the last successful connect, if any.
    pub fn saved_account(&self) -> Result<Option<PhoneAccount>, SessionError> {
        let path = self.account_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SessionError::Broken {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SessionError::Broken {
                path,
                reason: e.to_string(),
            })
    }

    fn save_account(&self, account: &PhoneAccount) -> Result<(), SessionError> {
        let path = self.account_path();
        let save = |source| SessionError::Save {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.data_dir).map_err(save)?;
        let text =
            serde_json::to_string_pretty(account).map_err(|e| save(std::io::Error::other(e)))?;
        // Write-then-rename: a crash never leaves half a file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(save)?;
        std::fs::rename(&tmp, &path).map_err(save)?;
        Ok(())
    }

    /// Starts the phone for `account`. A `password` given here is stored in the keychain
    /// (replacing the old one); without one, the stored password is used. Any running phone is
    /// stopped first (un-registering). Every phone event goes to `on_event`.
    pub async fn connect(
        &self,
        account: PhoneAccount,
        password: Option<String>,
        on_event: impl Fn(PhoneEvent) + Send + 'static,
    ) -> Result<(), SessionError> {
        account.validate()?;
        let name = account.secret_name()?;
        let remembered = |name: &SecretName| {
            self.session_password
                .lock()
                .ok()
                .and_then(|g| g.clone())
                .filter(|(n, _)| n == name.as_str())
                .map(|(_, p)| p)
        };
        let password = match password.filter(|p| !p.is_empty()) {
            Some(p) => {
                match self.secrets.set(&name, &Secret::new(p.clone())) {
                    Ok(()) => {}
                    Err(SecretsError::Unavailable(why)) => {
                        tracing::warn!(%why, "no OS keychain: the SIP password is kept for this session only");
                        if let Ok(mut g) = self.session_password.lock() {
                            *g = Some((name.as_str().to_string(), p.clone()));
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
                p
            }
            None => match self.secrets.get(&name) {
                Ok(Some(s)) => s.expose().to_string(),
                Ok(None) => remembered(&name).ok_or(SessionError::NoPassword)?,
                Err(SecretsError::Unavailable(_)) => {
                    remembered(&name).ok_or(SessionError::NoPassword)?
                }
                Err(e) => return Err(e.into()),
            },
        };
        self.disconnect().await;
        let (call_recording_dir, recording_notice) = self
            .recording
            .lock()
            .map(|g| g.clone())
            .unwrap_or((None, RecordingNotice::Off));
        let config = PhoneConfig {
            audio: self.audio(),
            call_recording_dir,
            recording_notice,
            ..PhoneConfig::default()
        };
        let Phone { handle, mut events } =
            Phone::start(config, vec![(account.to_config(), password)]).await?;
        self.save_account(&account)?;
        *self.running.lock().await = Some(handle);
        // The ringer hears each event before the front end, so an answer silences it first;
        // its device notices join the same stream of events.
        let (notice_tx, mut notices) = tokio::sync::mpsc::unbounded_channel();
        let (silence_tx, mut silence) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut g) = self.silence.lock() {
            *g = Some(silence_tx);
        }
        let mut ringer = Ringer::new(
            Arc::clone(&self.ringer),
            Arc::new(move |n: RingerNotice| {
                let _ = notice_tx.send(n);
            }),
        );
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = events.recv() => {
                        let Some(event) = event else { break };
                        ringer.on_event(&event);
                        on_event(event);
                    }
                    Some(notice) = notices.recv() => on_event(ringer_event(notice)),
                    Some(()) = silence.recv() => ringer.silence(),
                }
            }
            ringer.reset();
        });
        Ok(())
    }

    /// Hangs up, un-registers and stops the phone. Nothing happens when none runs.
    pub async fn disconnect(&self) {
        let old = self.running.lock().await.take();
        if let Some(handle) = old {
            handle.shutdown().await;
        }
    }

    /// Forgets the account and its stored password.
    pub async fn forget(&self) -> Result<(), SessionError> {
        self.disconnect().await;
        if let Ok(mut g) = self.session_password.lock() {
            *g = None;
        }
        if let Some(account) = self.saved_account().ok().flatten() {
            self.secrets.delete(&account.secret_name()?)?;
        }
        match std::fs::remove_file(self.account_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SessionError::Save {
                path: self.account_path(),
                source: e,
            }),
        }
    }

    /// The running phone, for call commands.
    pub async fn phone(&self) -> Result<PhoneHandle, SessionError> {
        self.running
            .lock()
            .await
            .clone()
            .ok_or(SessionError::NotConnected)
    }
}

/// The ringer's setup for this audio: the ring on the `ring` device, call waiting on the
/// calls' `output` device. None without sound devices.
fn ringer_setup(audio: &AudioIo, settings: &AudioSettings) -> Option<RingerSetup> {
    match audio {
        AudioIo::Devices { output, .. } => Some(RingerSetup {
            ring: ToneOutput::Device {
                id: settings.ring.clone(),
            },
            call: ToneOutput::Device { id: output.clone() },
            volume: settings.ring_volume,
            ringtone: settings.ringtone.clone(),
        }),
        AudioIo::Null | AudioIo::Files { .. } => None,
    }
}

/// A ringer notice as the front end's phone event.
fn ringer_event(n: RingerNotice) -> PhoneEvent {
    let device = match n.cue {
        seatline_ringer::Cue::Ring => "ring",
        seatline_ringer::Cue::CallWaiting => "call_waiting",
    };
    match n.notice {
        PlayerNotice::Fallback(f) => PhoneEvent::DeviceFallback {
            call: None,
            device: device.into(),
            wanted: f.wanted,
            message: format!("{}; using the system default", f.reason),
        },
        PlayerNotice::Failed(message) => PhoneEvent::Error {
            call: None,
            message: format!("no {device} sound: {message}"),
        },
        PlayerNotice::RingtoneUnusable(message) => PhoneEvent::Error {
            call: None,
            message: format!("{message}; ringing with the built-in tone"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatline_secrets::MemoryStore;

    #[tokio::test]
    async fn audio_settings_choose_the_devices_and_the_ringer() {
        let dir = tempfile::tempdir().unwrap();
        let devices = AudioIo::Devices {
            input: None,
            output: None,
        };
        let s = PhoneSession::new(dir.path(), Arc::new(MemoryStore::new()), devices);
        let settings = AudioSettings {
            input: Some("alsa:hw:CARD=Headset,DEV=0".into()),
            output: Some("alsa:hw:CARD=Headset,DEV=0".into()),
            ring: Some("alsa:default".into()),
            ring_volume: 40,
            ringtone: None,
        };
        s.apply_audio_settings(&settings).await;
        assert_eq!(
            s.audio(),
            AudioIo::Devices {
                input: settings.input.clone(),
                output: settings.output.clone(),
            }
        );
        let ringer = s.ringer.lock().unwrap().clone().unwrap();
        assert_eq!(
            ringer.ring,
            ToneOutput::Device {
                id: Some("alsa:default".into())
            }
        );
        assert_eq!(
            ringer.call,
            ToneOutput::Device {
                id: settings.output.clone()
            }
        );
        assert_eq!(ringer.volume, 40);

        // Without sound devices (CI, files) the audio stays and nothing rings.
        let null = PhoneSession::new(dir.path(), Arc::new(MemoryStore::new()), AudioIo::Null);
        null.apply_audio_settings(&settings).await;
        assert_eq!(null.audio(), AudioIo::Null);
        assert!(null.ringer.lock().unwrap().is_none());
    }

    fn account() -> PhoneAccount {
        PhoneAccount {
            domain: "127.0.0.1:9".into(),
            user: "1001".into(),
            auth_user: None,
            display_name: Some("Agent 7".into()),
            transport: SipTransport::Udp,
            outbound_proxy: None,
            auto_answer_ms: None,
            media_encryption: Default::default(),
        }
    }

    #[test]
    fn validation_refuses_what_cannot_work() {
        assert!(account().validate().is_ok());
        let mut a = account();
        a.user = "10 01".into();
        assert!(a.validate().is_err());
        let mut a = account();
        a.domain = "".into();
        assert!(a.validate().is_err());
        let mut a = account();
        a.auto_answer_ms = Some(120_000);
        assert!(a.validate().is_err());
    }

    #[test]
    fn broken_account_file_is_reported_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ACCOUNT_FILE), "{not json").unwrap();
        let s = PhoneSession::new(dir.path(), Arc::new(MemoryStore::new()), AudioIo::Null);
        assert!(matches!(
            s.saved_account(),
            Err(SessionError::Broken { .. })
        ));
        // The broken file is still there for the agent or support to look at.
        assert!(dir.path().join(ACCOUNT_FILE).exists());
    }

    /// A Linux desktop without a Secret Service.
    struct NoKeychain;
    impl SecretStore for NoKeychain {
        fn get(&self, _: &SecretName) -> Result<Option<Secret>, SecretsError> {
            Err(SecretsError::Unavailable("no Secret Service".into()))
        }
        fn set(&self, _: &SecretName, _: &Secret) -> Result<(), SecretsError> {
            Err(SecretsError::Unavailable("no Secret Service".into()))
        }
        fn delete(&self, _: &SecretName) -> Result<(), SecretsError> {
            Err(SecretsError::Unavailable("no Secret Service".into()))
        }
    }

    #[tokio::test]
    async fn without_a_keychain_the_password_lives_in_memory_for_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let s = PhoneSession::new(dir.path(), Arc::new(NoKeychain), AudioIo::Null);
        // Connect starts the phone (registration fails later: nothing listens on port 9).
        s.connect(account(), Some("typed-once".into()), |_| {})
            .await
            .unwrap();
        s.connect(account(), None, |_| {}).await.unwrap();
        let file = std::fs::read_to_string(dir.path().join(ACCOUNT_FILE)).unwrap();
        assert!(!file.contains("typed-once"));
        s.disconnect().await;
        let other = PhoneSession::new(dir.path(), Arc::new(NoKeychain), AudioIo::Null);
        let r = other.connect(account(), None, |_| {}).await;
        assert!(
            matches!(r, Err(SessionError::NoPassword)),
            "a new session has no password: {r:?}"
        );
    }

    #[tokio::test]
    async fn no_password_anywhere_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let s = PhoneSession::new(dir.path(), Arc::new(MemoryStore::new()), AudioIo::Null);
        let r = s.connect(account(), None, |_| {}).await;
        assert!(matches!(r, Err(SessionError::NoPassword)), "{r:?}");
        assert!(matches!(s.phone().await, Err(SessionError::NotConnected)));
    }
}

#[cfg(test)]
mod media_encryption_tests {
    use super::*;

    #[test]
    fn media_encryption_is_saved_and_old_accounts_read_as_off() {
        let old = r#"{"domain":"pbx.example","user":"1001","transport":"tls"}"#;
        let a: PhoneAccount = serde_json::from_str(old).unwrap();
        assert_eq!(a.media_encryption, MediaEncryption::Off);
        let new = r#"{"domain":"pbx.example","user":"1001","transport":"tls","media_encryption":"required"}"#;
        let a: PhoneAccount = serde_json::from_str(new).unwrap();
        assert_eq!(a.media_encryption, MediaEncryption::Required);
        assert_eq!(a.to_config().media_encryption, MediaEncryption::Required);
        assert!(serde_json::to_string(&a)
            .unwrap()
            .contains(r#""media_encryption":"required""#));
    }
}
