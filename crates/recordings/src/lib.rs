//! The desktop's local call recordings.
//!
//! Each recording is a stereo WAV (`crates/media` recorder: left the agent, right the far end)
//! with a JSON sidecar next to it, `<file>.wav.json`, written atomically (temporary file,
//! fsync, rename). Why a sidecar rather than a WAV LIST/INFO chunk: the metadata changes after
//! the audio is written (end time, paused spans, customer found later) and INFO has no fields
//! for call id, numbers or spans; rewriting a sidecar is atomic, rewriting chunks in a
//! multi-megabyte WAV is not. Why no SQLite index: the folder is the truth (an agent or an
//! archiver may move files), scanning a few thousand small JSON files takes milliseconds,
//! and there is no index to fall out of step.
//!
//! [`Recordings::scan`] never fails on one bad entry: a sidecar that does not parse, a WAV
//! that is missing or unreadable, is listed in [`Scan::problems`] and skipped. A recording the
//! app did not finish (a crash) has a stale WAV header; [`Recordings::read_wav`] hands out its
//! bytes with the header's lengths patched from the file length, so it still plays.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;
use time::OffsetDateTime;

pub mod wavfix;

#[derive(Debug, Error)]
pub enum RecordingsError {
    #[error("recordings folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sidecar {path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0:?} is not a recording in this folder")]
    BadId(String),
    #[error("no recording {0:?}")]
    NotFound(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Inbound,
    Outbound,
}

/// A span the agent paused the recording (card payment), in ms from the file's start; the
/// audio there is silence of the span's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedSpan {
    pub start_ms: u64,
    /// `None`: still paused when the recording ended.
    pub end_ms: Option<u64>,
}

/// The sidecar: what the call was. Version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingMeta {
    pub version: u32,
    /// The SIP Call-ID of the agent's leg (the call log's id).
    pub call_id: String,
    pub direction: CallDirection,
    /// The far end's number as the phone saw it (E.164 when known).
    pub remote_number: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// e.g. `PCMU/8000`.
    pub codec: String,
    pub sample_rate: u32,
    #[serde(default)]
    pub paused: Vec<PausedSpan>,
    /// Why the recording stopped early (disk full...), if it did.
    #[serde(default)]
    pub error: Option<String>,
}

pub const SIDECAR_VERSION: u32 = 1;

impl RecordingMeta {
    /// The sidecar of a recording that has just begun: no customer, end or pause yet.
    /// `codec` is the RTP name (`PCMU`), `sample_rate` its clock.
    pub fn begun(
        call_id: &str,
        direction: CallDirection,
        remote_number: &str,
        started_at: OffsetDateTime,
        codec: &str,
        sample_rate: u32,
    ) -> Self {
        Self {
            version: SIDECAR_VERSION,
            call_id: call_id.to_string(),
            direction,
            remote_number: remote_number.to_string(),
            display_name: None,
            customer_id: None,
            started_at,
            ended_at: None,
            codec: format!("{codec}/{sample_rate}"),
            sample_rate,
            paused: Vec::new(),
            error: None,
        }
    }
}

/// `<file>.json` next to the WAV.
pub fn sidecar_path(wav: &Path) -> PathBuf {
    let mut s = wav.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// A file name for a call's recording: start time and the call id's safe characters, so
/// names sort by time and never leave the folder.
pub fn file_name(call_id: &str, started_at: OffsetDateTime) -> String {
    let safe: String = call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let t = started_at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{safe}.wav",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Writes the sidecar atomically: a reader (or a crash) sees the old one or the new one.
pub fn write_sidecar(wav: &Path, meta: &RecordingMeta) -> Result<(), RecordingsError> {
    let path = sidecar_path(wav);
    let io = |source| RecordingsError::Io {
        path: path.clone(),
        source,
    };
    let json = serde_json::to_vec_pretty(meta).map_err(|source| RecordingsError::Json {
        path: path.clone(),
        source,
    })?;
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(&json).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, &path).map_err(io)?;
    Ok(())
}

/// Reads a sidecar, changes it and writes it back atomically (filling in what the call log
/// learned: the customer, the caller's name, the E.164 number).
pub fn update_sidecar(
    wav: &Path,
    change: impl FnOnce(&mut RecordingMeta),
) -> Result<(), RecordingsError> {
    let path = sidecar_path(wav);
    let text = fs::read(&path).map_err(|source| RecordingsError::Io {
        path: path.clone(),
        source,
    })?;
    let mut meta: RecordingMeta =
        serde_json::from_slice(&text).map_err(|source| RecordingsError::Json {
            path: path.clone(),
            source,
        })?;
    change(&mut meta);
    write_sidecar(wav, &meta)
}

/// One listed recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The WAV's file name: the id the UI passes back for playback and delete.
    pub id: String,
    pub meta: RecordingMeta,
    pub bytes: u64,
    /// From the audio's length on disk (not the header, which a crash leaves stale).
    pub duration_ms: u64,
    /// Whether the WAV header still needs its lengths (an unfinished recording).
    pub unfinished: bool,
}

/// A recording that could not be listed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scan {
    /// Newest first.
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
}

/// Search terms; all given ones must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Query {
    /// Digits of a number (separators ignored, matches anywhere in the number), or part of the
    /// display name or customer id (case-insensitive).
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Calls started at or after.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// Calls started before.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
}

fn digits(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_digit()).collect()
}

impl Query {
    pub fn matches(&self, m: &RecordingMeta) -> bool {
        if let Some(c) = &self.customer_id {
            if m.customer_id.as_deref() != Some(c.as_str()) {
                return false;
            }
        }
        if self.from.is_some_and(|from| m.started_at < from) {
            return false;
        }
        if self.to.is_some_and(|to| m.started_at >= to) {
            return false;
        }
        let Some(text) = self
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return true;
        };
        let d = digits(text);
        // A query that is mostly a number ("138 0013", "+86-138…") searches numbers.
        let numeric =
            d.len() >= 3 && d.len() * 2 >= text.chars().filter(|c| !c.is_whitespace()).count();
        if numeric && digits(&m.remote_number).contains(&d) {
            return true;
        }
        let lower = text.to_lowercase();
        [&m.display_name, &m.customer_id]
            .into_iter()
            .flatten()
            .any(|v| v.to_lowercase().contains(&lower))
            || m.remote_number.contains(text)
            || m.call_id == text
    }
}

/// The recordings folder.
#[derive(Debug, Clone)]
pub struct Recordings {
    dir: PathBuf,
}

impl Recordings {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Recordings { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every recording with a readable sidecar and WAV, newest first; the rest as problems.
    /// A missing folder is an empty list.
    pub fn scan(&self) -> Result<Scan, RecordingsError> {
        let mut scan = Scan::default();
        let read = match fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
            Err(source) => {
                return Err(RecordingsError::Folder {
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut wavs = std::collections::BTreeSet::new();
        let mut sidecars = Vec::new();
        for item in read {
            let Ok(item) = item else { continue };
            let name = item.file_name().to_string_lossy().into_owned();
            if let Some(wav) = name.strip_suffix(".json") {
                if wav.ends_with(".wav") {
                    sidecars.push(wav.to_string());
                }
            } else if name.ends_with(".wav") {
                wavs.insert(name);
            }
        }
        for wav in &sidecars {
            wavs.remove(wav);
            match self.entry(wav) {
                Ok(e) => scan.entries.push(e),
                Err(reason) => {
                    tracing::warn!(file = %wav, %reason, "recording skipped");
                    scan.problems.push(Problem {
                        file: wav.clone(),
                        reason,
                    });
                }
            }
        }
        // A WAV without its sidecar (crashed before it was written, or copied in by hand).
        for wav in wavs {
            scan.problems.push(Problem {
                file: wav,
                reason: "no sidecar (.json) with the call's details".into(),
            });
        }
        scan.entries
            .sort_by_key(|e| std::cmp::Reverse(e.meta.started_at));
        scan.problems.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(scan)
    }

    fn entry(&self, wav: &str) -> Result<Entry, String> {
        let path = self.dir.join(wav);
        let side = sidecar_path(&path);
        let text = fs::read(&side).map_err(|e| format!("sidecar unreadable: {e}"))?;
        let meta: RecordingMeta =
            serde_json::from_slice(&text).map_err(|e| format!("sidecar is not valid: {e}"))?;
        if meta.version > SIDECAR_VERSION {
            return Err(format!(
                "sidecar version {} is newer than this app",
                meta.version
            ));
        }
        let info = wavfix::inspect(&path).map_err(|e| format!("audio unreadable: {e}"))?;
        Ok(Entry {
            id: wav.to_string(),
            bytes: info.file_len,
            duration_ms: info.duration_ms(),
            unfinished: info.header_stale(),
            meta,
        })
    }

    pub fn search(&self, q: &Query) -> Result<Scan, RecordingsError> {
        let mut scan = self.scan()?;
        scan.entries.retain(|e| q.matches(&e.meta));
        Ok(scan)
    }

    /// The id must name a `.wav` directly in this folder (no path, no traversal).
    fn path_of(&self, id: &str) -> Result<PathBuf, RecordingsError> {
        let ok = id.ends_with(".wav")
            && !id.starts_with('.')
            && !id.contains(['/', '\\', '\0'])
            && !id.contains("..");
        if !ok {
            return Err(RecordingsError::BadId(id.to_string()));
        }
        let path = self.dir.join(id);
        if !path.is_file() {
            return Err(RecordingsError::NotFound(id.to_string()));
        }
        Ok(path)
    }

    /// The WAV's bytes for playback; an unfinished recording's header is patched in the copy
    /// (the file is left as it is).
    pub fn read_wav(&self, id: &str) -> Result<Vec<u8>, RecordingsError> {
        let path = self.path_of(id)?;
        let mut bytes = fs::read(&path).map_err(|source| RecordingsError::Io {
            path: path.clone(),
            source,
        })?;
        if wavfix::patch_lengths(&mut bytes) {
            tracing::info!(file = %id, "unfinished recording's header patched for playback");
        }
        Ok(bytes)
    }

    /// Deletes the WAV and its sidecar.
    pub fn delete(&self, id: &str) -> Result<(), RecordingsError> {
        let path = self.path_of(id)?;
        fs::remove_file(&path).map_err(|source| RecordingsError::Io {
            path: path.clone(),
            source,
        })?;
        let side = sidecar_path(&path);
        match fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(RecordingsError::Io { path: side, source }),
        }
        tracing::info!(file = %id, "recording deleted");
        Ok(())
    }
}

/// What a retention run removed, and what it could not remove.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// The WAV file names removed (with their sidecars).
    pub removed: Vec<String>,
    pub problems: Vec<Problem>,
}

/// The oldest call start a retention of `keep_days` keeps at `now`; `None` keeps everything.
pub fn retention_cutoff(now: OffsetDateTime, keep_days: u32) -> Option<OffsetDateTime> {
    (keep_days > 0).then(|| now - time::Duration::days(i64::from(keep_days)))
}

impl Recordings {
    /// Deletes every recording whose call started before `cutoff` (WAV and sidecar): the
    /// center's retention period. Only recordings with a readable sidecar are judged (their
    /// date is known); files the scan cannot read are left for a person to look at. A failed
    /// delete is reported and the run goes on.
    pub fn prune(&self, cutoff: OffsetDateTime) -> Result<Pruned, RecordingsError> {
        let mut pruned = Pruned::default();
        for entry in self.scan()?.entries {
            if entry.meta.started_at >= cutoff {
                continue;
            }
            match self.delete(&entry.id) {
                Ok(()) => pruned.removed.push(entry.id),
                Err(e) => pruned.problems.push(Problem {
                    file: entry.id,
                    reason: e.to_string(),
                }),
            }
        }
        if !pruned.removed.is_empty() {
            tracing::info!(
                removed = pruned.removed.len(),
                %cutoff,
                "recordings past their retention removed"
            );
        }
        Ok(pruned)
    }

    /// [`Recordings::prune`] for a retention of `keep_days` from now (0: nothing goes).
    pub fn prune_older_than_days(&self, keep_days: u32) -> Result<Pruned, RecordingsError> {
        match retention_cutoff(OffsetDateTime::now_utc(), keep_days) {
            Some(cutoff) => self.prune(cutoff),
            None => Ok(Pruned::default()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn meta(call: &str, number: &str, at: OffsetDateTime) -> RecordingMeta {
        RecordingMeta {
            display_name: Some("王芳".into()),
            ended_at: Some(at + time::Duration::seconds(2)),
            ..RecordingMeta::begun(call, CallDirection::Inbound, number, at, "PCMU", 8000)
        }
    }

    fn wav(path: &Path, frames: usize) {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..frames * 2 {
            w.write_sample((i % 100) as i16).unwrap();
        }
        w.finalize().unwrap();
    }

    fn add(dir: &Path, m: &RecordingMeta, frames: usize) -> String {
        let name = file_name(&m.call_id, m.started_at);
        let p = dir.join(&name);
        wav(&p, frames);
        write_sidecar(&p, m).unwrap();
        name
    }

    #[test]
    fn lists_newest_first_and_searches() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = meta("a@x", "+8613800138000", datetime!(2026-11-30 09:00 UTC));
        a.customer_id = Some("C-17".into());
        let b = meta("b@x", "+862161234567", datetime!(2026-11-30 15:00 UTC));
        let mut c = meta("c@x", "10086", datetime!(2026-11-29 10:00 UTC));
        c.display_name = Some("Acme Ltd".into());
        for m in [&a, &b, &c] {
            add(dir.path(), m, 16_000);
        }
        let r = Recordings::new(dir.path());
        let s = r.scan().unwrap();
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        let ids: Vec<&str> = s.entries.iter().map(|e| e.meta.call_id.as_str()).collect();
        assert_eq!(ids, ["b@x", "a@x", "c@x"]);
        assert_eq!(s.entries[0].duration_ms, 2000);
        assert!(!s.entries[0].unfinished);

        let find = |q: Query| -> Vec<String> {
            r.search(&q)
                .unwrap()
                .entries
                .into_iter()
                .map(|e| e.meta.call_id)
                .collect()
        };
        let text = |t: &str| Query {
            text: Some(t.into()),
            ..Query::default()
        };
        // Numbers match on digits, whatever the separators.
        assert_eq!(find(text("138 0013")), ["a@x"]);
        assert_eq!(find(text("021-6123")), Vec::<String>::new());
        assert_eq!(find(text("6123-4567")), ["b@x"]);
        assert_eq!(find(text("acme")), ["c@x"]);
        assert_eq!(find(text("c-17")), ["a@x"]);
        assert_eq!(
            find(Query {
                customer_id: Some("C-17".into()),
                ..Query::default()
            }),
            ["a@x"]
        );
        assert_eq!(
            find(Query {
                from: Some(datetime!(2026-11-30 00:00 UTC)),
                to: Some(datetime!(2026-11-30 12:00 UTC)),
                ..Query::default()
            }),
            ["a@x"]
        );
    }

    #[test]
    fn broken_entries_are_reported_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let good = add(
            dir.path(),
            &meta("ok", "1001", datetime!(2026-11-30 09:00 UTC)),
            800,
        );
        // A sidecar that is not JSON.
        let p = dir.path().join("bad-json.wav");
        wav(&p, 10);
        fs::write(sidecar_path(&p), b"{ not json").unwrap();
        // A sidecar whose WAV is gone.
        let gone = dir.path().join("gone.wav");
        write_sidecar(&gone, &meta("gone", "1", datetime!(2026-11-30 09:00 UTC))).unwrap();
        // A WAV that is not audio.
        let junk = dir.path().join("junk.wav");
        fs::write(&junk, b"RIFF????garbage").unwrap();
        write_sidecar(&junk, &meta("junk", "1", datetime!(2026-11-30 09:00 UTC))).unwrap();
        // A WAV without a sidecar.
        wav(&dir.path().join("orphan.wav"), 10);

        let s = Recordings::new(dir.path()).scan().unwrap();
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.entries[0].id, good);
        let files: Vec<&str> = s.problems.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(
            files,
            ["bad-json.wav", "gone.wav", "junk.wav", "orphan.wav"]
        );
        assert!(
            s.problems[0].reason.contains("not valid"),
            "{:?}",
            s.problems
        );
    }

    #[test]
    fn delete_removes_both_files_and_refuses_paths() {
        let dir = tempfile::tempdir().unwrap();
        let id = add(
            dir.path(),
            &meta("d", "1001", datetime!(2026-11-30 09:00 UTC)),
            80,
        );
        let r = Recordings::new(dir.path());
        for bad in [
            "../x.wav",
            "/etc/passwd",
            "a/b.wav",
            "x.json",
            ".hidden.wav",
        ] {
            assert!(
                matches!(r.delete(bad), Err(RecordingsError::BadId(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            r.delete("missing.wav"),
            Err(RecordingsError::NotFound(_))
        ));
        r.delete(&id).unwrap();
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
        assert!(r.scan().unwrap().entries.is_empty());
    }

    #[test]
    fn retention_removes_only_calls_older_than_the_period() {
        let dir = tempfile::tempdir().unwrap();
        let now = datetime!(2026-12-02 12:00 UTC);
        let at = |days: i64| now - time::Duration::days(days);
        let mut ids = Vec::new();
        for (call, days) in [("old", 40), ("edge", 30), ("recent", 29), ("today", 0)] {
            let path = dir.path().join(file_name(call, at(days)));
            wav(&path, 800);
            write_sidecar(&path, &meta(call, "13800138000", at(days))).unwrap();
            ids.push(path);
        }
        // A WAV without a sidecar has no known date: kept and left for a person.
        std::fs::write(dir.path().join("stray.wav"), b"RIFF").unwrap();
        let recordings = Recordings::new(dir.path());
        assert_eq!(retention_cutoff(now, 0), None);
        let cutoff = retention_cutoff(now, 30).unwrap();
        let pruned = recordings
            .prune(cutoff - time::Duration::seconds(1))
            .unwrap();
        assert_eq!(pruned.removed.len(), 1, "{pruned:?}");
        assert!(pruned.removed[0].contains("old"), "{pruned:?}");
        assert!(!ids[0].exists() && !sidecar_path(&ids[0]).exists());
        let left: Vec<String> = recordings
            .scan()
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.meta.call_id)
            .collect();
        assert_eq!(left, ["today", "recent", "edge"]);
        assert!(dir.path().join("stray.wav").exists());
        // Exactly at the cutoff stays; a moment later it goes.
        let pruned = recordings
            .prune(cutoff + time::Duration::seconds(1))
            .unwrap();
        assert_eq!(pruned.removed.len(), 1);
        assert!(pruned.removed[0].contains("edge"));
        // A missing folder is nothing to prune.
        let none = Recordings::new(dir.path().join("missing"))
            .prune(now)
            .unwrap();
        assert_eq!(none, Pruned::default());
    }

    #[test]
    fn a_missing_folder_is_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        let s = Recordings::new(dir.path().join("none")).scan().unwrap();
        assert_eq!(s, Scan::default());
    }

    #[test]
    fn a_crashed_recording_is_listed_and_plays() {
        let dir = tempfile::tempdir().unwrap();
        let m = meta("crash", "1001", datetime!(2026-11-30 09:00 UTC));
        let id = add(dir.path(), &m, 8000);
        let p = dir.path().join(&id);
        // As a crash between header rewrites leaves it: audio past the header's length.
        let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&vec![1u8; 4 * 4000]).unwrap();
        drop(f);
        let r = Recordings::new(dir.path());
        let e = &r.scan().unwrap().entries[0];
        assert!(e.unfinished);
        assert_eq!(e.duration_ms, 1500);
        let bytes = r.read_wav(&id).unwrap();
        let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(reader.duration(), 12_000);
    }

    #[test]
    fn sidecar_round_trips_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        let mut m = meta("x", "1001", datetime!(2026-11-30 09:00 UTC));
        write_sidecar(&p, &m).unwrap();
        m.paused.push(PausedSpan {
            start_ms: 1000,
            end_ms: Some(2500),
        });
        m.ended_at = None;
        write_sidecar(&p, &m).unwrap();
        let back: RecordingMeta =
            serde_json::from_slice(&fs::read(sidecar_path(&p)).unwrap()).unwrap();
        assert_eq!(back, m);
        // No temporary file left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        update_sidecar(&p, |m| m.customer_id = Some("C-1".into())).unwrap();
        let back: RecordingMeta =
            serde_json::from_slice(&fs::read(sidecar_path(&p)).unwrap()).unwrap();
        assert_eq!(back.customer_id.as_deref(), Some("C-1"));
        assert_eq!(back.paused, m.paused);
    }

    #[test]
    fn file_names_sort_by_time_and_stay_in_the_folder() {
        let n = file_name("../a b@c/d", datetime!(2026-11-30 09:05:07 +08:00));
        assert_eq!(n, "20261130T010507Z-___a_b_c_d.wav");
    }
}
