//! A call's recording on the SIP side: where its WAV goes, and its sidecar (crates/recordings)
//! written when media starts and completed when the call ends. The audio itself is the media
//! engine's (crates/media `recorder`).

use crate::events::CallDirection;
use seatline_media::recorder::RecordingSummary;
use seatline_recordings::{
    file_name, sidecar_path, write_sidecar, CallDirection as Dir, PausedSpan, RecordingMeta,
};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// A recording being made.
#[derive(Debug, Clone)]
pub(crate) struct CallRecording {
    pub(crate) wav: PathBuf,
    meta: RecordingMeta,
}

/// The number (user part) of a SIP/TEL URI, or the text as it is.
fn number_of(uri: &str) -> String {
    let rest = uri
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .split_once(':')
        .map_or(uri, |(_, r)| r);
    let user = rest.split(['@', ';', '?']).next().unwrap_or(rest);
    user.to_string()
}

impl CallRecording {
    /// Picks the file and writes the first sidecar (no end time yet: a crash leaves it so).
    pub(crate) fn begin(
        dir: &Path,
        call_id: &str,
        direction: CallDirection,
        remote_uri: &str,
        codec: &str,
        rate: u32,
    ) -> Result<CallRecording, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the recordings folder {}: {e}", dir.display()))?;
        let now = OffsetDateTime::now_utc();
        let wav = dir.join(file_name(call_id, now));
        let direction = match direction {
            CallDirection::Incoming => Dir::Inbound,
            CallDirection::Outgoing => Dir::Outbound,
        };
        let meta =
            RecordingMeta::begun(call_id, direction, &number_of(remote_uri), now, codec, rate);
        write_sidecar(&wav, &meta).map_err(|e| e.to_string())?;
        Ok(CallRecording { wav, meta })
    }

    /// Completes the sidecar from what the engine reports. A recording that never started
    /// (`None`) leaves no sidecar behind.
    pub(crate) fn finish(mut self, summary: Option<RecordingSummary>) -> Result<(), String> {
        let Some(s) = summary else {
            match std::fs::remove_file(sidecar_path(&self.wav)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.to_string()),
            }
            return Ok(());
        };
        let ms = |frames: u64| frames * 1000 / u64::from(s.rate.max(1));
        self.meta.ended_at = Some(OffsetDateTime::now_utc());
        self.meta.paused = s
            .paused
            .iter()
            .map(|p| PausedSpan {
                start_ms: ms(p.start),
                end_ms: p.end.map(ms),
            })
            .collect();
        self.meta.error = s.error;
        write_sidecar(&self.wav, &self.meta).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_from_the_uri_user_part() {
        assert_eq!(number_of("sip:1002@10.0.0.1:5060;transport=udp"), "1002");
        assert_eq!(number_of("<tel:+8613800138000>"), "+8613800138000");
        assert_eq!(number_of("sips:+862161234567@pbx"), "+862161234567");
        assert_eq!(number_of("10086"), "10086");
    }
}
