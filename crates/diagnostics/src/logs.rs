//! Rotating log files: `DATA_DIR/logs/seatline.YYYY-MM-DD.log`, a new file each day, the newest
//! [`LOG_FILES_KEPT`] kept. Lines also go to standard error as before.

use std::path::{Path, PathBuf};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

pub const LOG_FILE_PREFIX: &str = "seatline";
pub const LOG_FILE_SUFFIX: &str = "log";
/// Days of logs kept on disk.
pub const LOG_FILES_KEPT: usize = 7;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot create the log folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the log file in {path}: {message}")]
    Open { path: PathBuf, message: String },
}

/// The log folder inside a data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// Keeps the background log writer running; dropping it flushes the file.
pub struct LogGuard {
    _guard: tracing_appender::non_blocking::WorkerGuard,
    pub dir: PathBuf,
}

/// rsipstack logs every SIP message it sends or receives, bodies included, at info level
/// (`transport/udp.rs`, `transport/stream.rs`): the SDP carries the call's SRTP keys (SDES).
/// Its transport stays at warn unless a filter names rsipstack itself.
const SIP_TRANSPORT_QUIET: &str = "rsipstack::transport=warn";

/// The log filter asked for: `SEATLINE_LOG` when set, else `default`.
pub fn log_spec(default: &str) -> String {
    std::env::var("SEATLINE_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The filter every Seatline log uses: `spec`, with SIP message dumps (and the SRTP keys in
/// them) kept out unless `spec` names rsipstack.
pub fn log_filter(spec: &str) -> EnvFilter {
    let filter = EnvFilter::new(spec);
    if spec.contains("rsipstack") {
        return filter;
    }
    match SIP_TRANSPORT_QUIET.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// Logs to rotating files in `data_dir/logs` and to standard error, filtered by `SEATLINE_LOG`
/// (a `tracing` filter), else `default`. A second initialisation keeps the first subscriber
/// (the files are still created).
pub fn init_file_logging(data_dir: &Path, default: &str) -> Result<LogGuard, LogError> {
    let dir = log_dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(|source| LogError::CreateDir {
        path: dir.clone(),
        source,
    })?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(LOG_FILE_PREFIX)
        .filename_suffix(LOG_FILE_SUFFIX)
        .max_log_files(LOG_FILES_KEPT)
        .build(&dir)
        .map_err(|error| LogError::Open {
            path: dir.clone(),
            message: error.to_string(),
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let spec = log_spec(default);
    let filter = || log_filter(&spec);
    let _ = tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter()),
        )
        .with(
            fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter()),
        )
        .try_init();
    Ok(LogGuard { _guard: guard, dir })
}

/// The log files in `dir`, newest first (by name: the date is in it).
pub(crate) fn log_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(LOG_FILE_PREFIX))
            })
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error),
    };
    files.sort();
    files.reverse();
    Ok(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sip_messages_with_srtp_keys_stay_out_of_info_logs() {
        let quiet = |spec: &str| log_filter(spec).to_string().contains(SIP_TRANSPORT_QUIET);
        assert!(quiet("info"));
        assert!(quiet("debug,seatline_sip_phone=trace"));
        // Asked for by name: the developer gets the SIP trace.
        assert!(!log_filter("rsipstack=trace").to_string().contains("=warn"));
    }

    use super::*;

    #[test]
    fn logging_writes_a_dated_file_in_the_logs_folder() {
        let dir = tempfile::tempdir().unwrap();
        let guard = init_file_logging(dir.path(), "info").unwrap();
        tracing::info!(marker = "file-logging-test", "hello from the test");
        drop(guard);
        let files = log_files(&log_dir(dir.path())).unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.starts_with("seatline.") && name.ends_with(".log"),
            "{name}"
        );
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("file-logging-test"), "{text}");
    }
}
