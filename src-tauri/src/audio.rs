//! The Audio settings section, wired to Tauri: the sound devices (`seatline-media`), the
//! `[audio]` settings (`seatline-settings`, applied through `seatline-phone-session`), the
//! speaker test (`seatline-ringer`) and the microphone test's level meter.

use crate::{AppState, CommandError, PhoneState};
use seatline_media::meter::{Level, LevelMeter};
use seatline_ringer::{Play, PlayerNotice, ToneOutput, TonePlayer};
use seatline_settings::AudioSettings;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Runtime, State};

/// The microphone test's readings, about 20 a second: `{rms_dbfs, peak_dbfs}`.
pub const AUDIO_LEVEL_EVENT: &str = "audio-level";

/// The running microphone test, if any.
#[derive(Default)]
pub struct AudioState {
    meter: Mutex<Option<LevelMeter>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceEntry {
    pub id: String,
    pub name: String,
    pub is_input: bool,
    pub is_default: bool,
}

/// The section as the window shows it: the saved choice and the devices there are now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudioView {
    pub settings: AudioSettings,
    pub devices: Vec<DeviceEntry>,
    /// Why the devices could not be listed (no sound system), if so.
    pub devices_error: Option<String>,
}

/// What a device test used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceTest {
    /// The device's name.
    pub device: Option<String>,
    /// The chosen device was gone; the default was used.
    pub fell_back: bool,
}

fn audio_error(message: impl std::fmt::Display) -> CommandError {
    CommandError {
        code: "audio",
        message: message.to_string(),
    }
}

async fn view(settings: AudioSettings) -> Result<AudioView, CommandError> {
    // Enumerating devices can take a while (a sound server answering): off the async threads.
    let listed = tauri::async_runtime::spawn_blocking(seatline_media::list_devices)
        .await
        .map_err(audio_error)?;
    let (devices, devices_error) = match listed {
        Ok(list) => (
            list.into_iter()
                .map(|d| DeviceEntry {
                    id: d.id,
                    name: d.name,
                    is_input: d.is_input,
                    is_default: d.is_default,
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Ok(AudioView {
        settings,
        devices,
        devices_error,
    })
}

#[tauri::command]
pub async fn audio_settings(state: State<'_, AppState>) -> Result<AudioView, CommandError> {
    let settings = state.workspace().settings().audio.clone();
    view(settings).await
}

/// Checks, saves and applies the section: the next call uses the devices (no reconnect), the
/// next ring the ring device, volume and tone. A bad value is refused (code `settings`) and
/// nothing changes.
#[tauri::command]
pub async fn set_audio_settings(
    state: State<'_, AppState>,
    phone: State<'_, PhoneState>,
    settings: AudioSettings,
) -> Result<AudioView, CommandError> {
    let saved = state.workspace().set_audio(&settings)?;
    phone.0.apply_audio_settings(&saved).await;
    view(saved).await
}

/// Plays the ring's double burst (1.1 s) on `device` (`None`: the default output) at `volume`
/// and returns when it has played.
#[tauri::command]
pub async fn audio_test_speaker(
    device: Option<String>,
    volume: Option<u8>,
) -> Result<DeviceTest, CommandError> {
    let volume = volume
        .unwrap_or(seatline_settings::DEFAULT_RING_VOLUME)
        .min(100);
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&notices);
    let player = TonePlayer::start(
        Play::Test { volume },
        ToneOutput::Device { id: device },
        Box::new(move |n| {
            if let Ok(mut g) = seen.lock() {
                g.push(n);
            }
        }),
    )
    .map_err(audio_error)?;
    let report = tauri::async_runtime::spawn_blocking(move || player.wait())
        .await
        .map_err(audio_error)?;
    let notices = notices.lock().map(|g| g.clone()).unwrap_or_default();
    if let Some(PlayerNotice::Failed(message)) = notices
        .iter()
        .find(|n| matches!(n, PlayerNotice::Failed(_)))
    {
        return Err(audio_error(message));
    }
    Ok(DeviceTest {
        device: report.device,
        fell_back: notices
            .iter()
            .any(|n| matches!(n, PlayerNotice::Fallback(_))),
    })
}

#[derive(Debug, Clone, Copy, Serialize)]
struct LevelEvent {
    rms_dbfs: f32,
    peak_dbfs: f32,
}

/// Starts the microphone test on `device` (`None`: the default input): its level comes as
/// `audio-level` events until `audio_meter_stop`. A running test is replaced.
#[tauri::command]
pub async fn audio_meter_start<R: Runtime>(
    app: AppHandle<R>,
    audio: State<'_, AudioState>,
    device: Option<String>,
) -> Result<DeviceTest, CommandError> {
    if let Some(old) = audio.meter.lock().ok().and_then(|mut g| g.take()) {
        old.stop();
    }
    let meter = tauri::async_runtime::spawn_blocking(move || {
        LevelMeter::start(
            device,
            Duration::from_millis(50),
            Box::new(move |l: Level| {
                let _ = app.emit(
                    AUDIO_LEVEL_EVENT,
                    LevelEvent {
                        rms_dbfs: l.rms_dbfs,
                        peak_dbfs: l.peak_dbfs,
                    },
                );
            }),
        )
    })
    .await
    .map_err(audio_error)?
    .map_err(audio_error)?;
    let test = DeviceTest {
        device: Some(meter.device().to_string()),
        fell_back: meter.fallback().is_some(),
    };
    if let Ok(mut g) = audio.meter.lock() {
        *g = Some(meter);
    }
    Ok(test)
}

/// Stops the microphone test (nothing happens when none runs).
#[tauri::command]
pub async fn audio_meter_stop(audio: State<'_, AudioState>) -> Result<(), CommandError> {
    let meter = audio.meter.lock().ok().and_then(|mut g| g.take());
    if let Some(meter) = meter {
        tauri::async_runtime::spawn_blocking(move || meter.stop())
            .await
            .map_err(audio_error)?;
    }
    Ok(())
}
