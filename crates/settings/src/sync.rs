//! How long the desktop's sync waits on the central server (`[sync]`): a center behind a slow
//! VPN or a satellite link needs longer than the defaults, a LAN shorter ones so that a dead
//! server is noticed sooner. The same three limits as `seatline sync --connect-timeout-ms …`.

use serde::{Deserialize, Serialize};

/// The defaults: the sync client's own (5 s, 15 s, 30 s).
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u32 = 5;
pub const DEFAULT_READ_TIMEOUT_SECS: u32 = 15;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u32 = 30;

/// The `[sync]` section of the settings file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// To open the connection (1-60 s).
    pub connect_timeout_secs: u32,
    /// Silence while waiting for an answer before the request fails and is retried (1-300 s).
    pub read_timeout_secs: u32,
    /// One whole request and its answer (1-600 s, at least the read timeout).
    pub request_timeout_secs: u32,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            read_timeout_secs: DEFAULT_READ_TIMEOUT_SECS,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncSettingsError {
    #[error("invalid sync.{name} {value}: expected 1 to {max} seconds")]
    OutOfRange {
        name: &'static str,
        value: u32,
        max: u32,
    },
    #[error(
        "sync.request_timeout_secs {request} is shorter than sync.read_timeout_secs {read}: \
         a request would end before its answer may go silent"
    )]
    RequestShorterThanRead { request: u32, read: u32 },
    #[error("invalid number {0:?} for a sync timeout: expected whole seconds")]
    NotANumber(String),
}

impl SyncSettings {
    const FIELDS: [(&'static str, u32); 3] = [
        ("connect_timeout_secs", 60),
        ("read_timeout_secs", 300),
        ("request_timeout_secs", 600),
    ];

    fn value(&self, name: &str) -> Option<u32> {
        match name {
            "connect_timeout_secs" => Some(self.connect_timeout_secs),
            "read_timeout_secs" => Some(self.read_timeout_secs),
            "request_timeout_secs" => Some(self.request_timeout_secs),
            _ => None,
        }
    }

    /// Checks each limit's range, and that a whole request may last as long as its silence.
    pub fn validated(&self) -> Result<Self, SyncSettingsError> {
        for (name, max) in Self::FIELDS {
            let value = self.value(name).unwrap_or(0);
            if !(1..=max).contains(&value) {
                return Err(SyncSettingsError::OutOfRange { name, value, max });
            }
        }
        if self.request_timeout_secs < self.read_timeout_secs {
            return Err(SyncSettingsError::RequestShorterThanRead {
                request: self.request_timeout_secs,
                read: self.read_timeout_secs,
            });
        }
        Ok(*self)
    }

    /// Sets `field` (e.g. `read_timeout_secs`) from text; `Ok(false)` when there is no such
    /// field. The section as a whole must still validate.
    pub fn set_field(&mut self, field: &str, value: &str) -> Result<bool, SyncSettingsError> {
        let Some(_) = self.value(field) else {
            return Ok(false);
        };
        let secs: u32 = value
            .trim()
            .parse()
            .map_err(|_| SyncSettingsError::NotANumber(value.to_owned()))?;
        let mut next = *self;
        match field {
            "connect_timeout_secs" => next.connect_timeout_secs = secs,
            "read_timeout_secs" => next.read_timeout_secs = secs,
            _ => next.request_timeout_secs = secs,
        }
        *self = next.validated()?;
        Ok(true)
    }

    pub fn get_field(&self, field: &str) -> Option<String> {
        self.value(field).map(|v| v.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_sync_clients_and_valid() {
        let d = SyncSettings::default();
        assert_eq!(
            (
                d.connect_timeout_secs,
                d.read_timeout_secs,
                d.request_timeout_secs
            ),
            (5, 15, 30)
        );
        assert_eq!(d.validated().unwrap(), d);
    }

    #[test]
    fn out_of_range_and_inconsistent_limits_are_refused_whole() {
        let mut s = SyncSettings::default();
        assert!(
            s.set_field("read_timeout_secs", "120").is_err(),
            "above the request's 30"
        );
        assert_eq!(
            s,
            SyncSettings::default(),
            "a refused change leaves the section as it was"
        );
        assert!(s.set_field("request_timeout_secs", "600").unwrap());
        assert!(s.set_field("read_timeout_secs", "120").unwrap());
        assert_eq!(s.get_field("read_timeout_secs").as_deref(), Some("120"));
        for (field, bad) in [
            ("connect_timeout_secs", "0"),
            ("connect_timeout_secs", "61"),
            ("request_timeout_secs", "601"),
            ("read_timeout_secs", "ten"),
        ] {
            let before = s;
            assert!(s.set_field(field, bad).is_err(), "{field} = {bad}");
            assert_eq!(s, before);
        }
        assert!(!s.set_field("write_timeout_secs", "5").unwrap());
        assert_eq!(s.get_field("write_timeout_secs"), None);
    }
}
