//! Sound devices and the ringer (`[audio]` in settings.toml). Device ids are the ones
//! `seatline_media::list_devices` gives (`alsa:default`, a WASAPI endpoint id...); unset means
//! the system default. The choice is read when each call's media starts, so a change applies to
//! the next call; a device that is gone then falls back to the default (reported, not fatal).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The ring volume when none is set (percent of full scale, on a perceptual curve).
pub const DEFAULT_RING_VOLUME: u8 = 80;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioSettingsError {
    #[error("invalid ring volume {0:?}: expected a whole number from 0 to 100")]
    RingVolume(String),
    #[error("invalid {key} device id {id:?}: it must be one line of at most 512 characters")]
    DeviceId { key: &'static str, id: String },
    #[error("invalid ringtone {0:?}: expected the path of a .wav file")]
    Ringtone(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioSettings {
    /// Microphone for calls; `None`: the system default input.
    pub input: Option<String>,
    /// Speaker or headset for calls (and the call-waiting tone); `None`: the default output.
    pub output: Option<String>,
    /// Where incoming calls ring (a loudspeaker while the call goes to the headset); `None`:
    /// the default output.
    pub ring: Option<String>,
    /// Ringer loudness, 0-100 (0 rings silently: the card and notification still show).
    pub ring_volume: u8,
    /// A WAV file to ring with instead of the built-in tone.
    pub ringtone: Option<PathBuf>,
}

impl Default for AudioSettings {
    fn default() -> Self {
        Self {
            input: None,
            output: None,
            ring: None,
            ring_volume: DEFAULT_RING_VOLUME,
            ringtone: None,
        }
    }
}

fn check_id(key: &'static str, id: &Option<String>) -> Result<Option<String>, AudioSettingsError> {
    match id.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.len() <= 512 && !v.chars().any(char::is_control) => Ok(Some(v.to_owned())),
        Some(v) => Err(AudioSettingsError::DeviceId {
            key,
            id: v.to_owned(),
        }),
    }
}

impl AudioSettings {
    /// Checks every field and returns them normalised (blank ids and paths become unset).
    pub fn validated(&self) -> Result<Self, AudioSettingsError> {
        if self.ring_volume > 100 {
            return Err(AudioSettingsError::RingVolume(self.ring_volume.to_string()));
        }
        let ringtone = match &self.ringtone {
            Some(p) if p.as_os_str().is_empty() => None,
            Some(p) => {
                let is_wav = p
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
                if !is_wav {
                    return Err(AudioSettingsError::Ringtone(p.display().to_string()));
                }
                Some(p.clone())
            }
            None => None,
        };
        Ok(Self {
            input: check_id("input", &self.input)?,
            output: check_id("output", &self.output)?,
            ring: check_id("ring", &self.ring)?,
            ring_volume: self.ring_volume,
            ringtone,
        })
    }

    /// Sets `audio.<field>` from its text form; `field` is what follows `audio.`.
    /// Returns `false` for an unknown field.
    pub(crate) fn set_field(
        &mut self,
        field: &str,
        value: &str,
    ) -> Result<bool, AudioSettingsError> {
        let value = value.trim();
        let mut next = self.clone();
        match field {
            "input" => next.input = Some(value.to_owned()),
            "output" => next.output = Some(value.to_owned()),
            "ring" => next.ring = Some(value.to_owned()),
            "ring_volume" => {
                next.ring_volume = value
                    .parse::<u8>()
                    .ok()
                    .filter(|v| *v <= 100)
                    .ok_or_else(|| AudioSettingsError::RingVolume(value.to_owned()))?
            }
            "ringtone" => next.ringtone = Some(PathBuf::from(value)),
            _ => return Ok(false),
        }
        *self = next.validated()?;
        Ok(true)
    }

    /// Reads `audio.<field>` in the form `set_field` takes; `None` for an unknown field.
    pub(crate) fn get_field(&self, field: &str) -> Option<String> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Some(match field {
            "input" => text(&self.input),
            "output" => text(&self.output),
            "ring" => text(&self.ring),
            "ring_volume" => self.ring_volume.to_string(),
            "ringtone" => self
                .ringtone
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_system_devices_at_80_percent() {
        let a = AudioSettings::default();
        assert_eq!((a.input, a.output, a.ring), (None, None, None));
        assert_eq!(a.ring_volume, 80);
        assert_eq!(a.ringtone, None);
    }

    #[test]
    fn fields_are_checked_and_a_refused_value_changes_nothing() {
        let mut a = AudioSettings::default();
        assert!(a.set_field("ring", " alsa:hw:CARD=1,DEV=0 ").unwrap());
        assert_eq!(a.ring.as_deref(), Some("alsa:hw:CARD=1,DEV=0"));
        let before = a.clone();
        for (field, value) in [
            ("ring_volume", "101"),
            ("ring_volume", "-1"),
            ("ring_volume", "loud"),
            ("ringtone", "/tmp/ring.mp3"),
            ("input", "bad\nid"),
        ] {
            assert!(a.set_field(field, value).is_err(), "{field}={value}");
            assert_eq!(a, before);
        }
        assert!(!a.set_field("speaker", "x").unwrap());
        // Blank means the system default again.
        a.set_field("ring", "").unwrap();
        assert_eq!(a.ring, None);
        a.set_field("ringtone", "/srv/Ring.WAV").unwrap();
        assert_eq!(a.get_field("ringtone").unwrap(), "/srv/Ring.WAV");
        a.set_field("ringtone", "").unwrap();
        assert_eq!(a.ringtone, None);
    }
}
