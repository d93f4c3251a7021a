//! The "collect diagnostics" bundle: a zip holding `versions.txt`, the settings file and the
//! newest log files, each passed through a [`Redactor`] first. Nothing is copied unredacted.

use crate::logs::{log_dir, log_files};
use crate::redact::Redactor;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Logs larger than this are cut to their last part (the newest lines).
pub const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;
/// Log files included, newest first.
pub const MAX_LOG_FILES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the diagnostics bundle {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// What to collect.
pub struct BundleRequest<'a> {
    pub data_dir: &'a Path,
    /// The settings file (read if it exists).
    pub settings_file: &'a Path,
    /// `name: version` lines (app, OS, webview …) for `versions.txt`.
    pub versions: Vec<(String, String)>,
    /// Where the zip goes (its folder must exist).
    pub output: &'a Path,
    /// Secrets known to the caller (from the keychain), removed wherever they appear.
    pub known_secrets: Vec<String>,
}

/// What went into the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    pub path: PathBuf,
    pub files: Vec<String>,
    pub bytes: u64,
}

/// Writes the bundle and returns what it holds.
pub fn collect(request: BundleRequest<'_>) -> Result<BundleSummary, BundleError> {
    let redactor = Redactor::new(request.known_secrets.iter().cloned());
    let mut entries: Vec<(String, String)> = Vec::new();

    let mut versions = String::new();
    for (name, version) in &request.versions {
        versions.push_str(&format!("{name}: {version}\n"));
    }
    entries.push(("versions.txt".to_owned(), versions));

    match std::fs::read_to_string(request.settings_file) {
        Ok(text) => entries.push(("settings.toml".to_owned(), text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(BundleError::Read {
                path: request.settings_file.to_owned(),
                source,
            })
        }
    }

    let logs = log_dir(request.data_dir);
    let files = log_files(&logs).map_err(|source| BundleError::Read {
        path: logs.clone(),
        source,
    })?;
    for path in files.into_iter().take(MAX_LOG_FILES) {
        let text = read_tail(&path)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("log")
            .to_owned();
        entries.push((format!("logs/{name}"), text));
    }

    let write_error = |message: String| BundleError::Write {
        path: request.output.to_owned(),
        message,
    };
    let file = std::fs::File::create(request.output).map_err(|e| write_error(e.to_string()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600);
    let mut names = Vec::new();
    for (name, text) in entries {
        zip.start_file(name.as_str(), options)
            .map_err(|e| write_error(e.to_string()))?;
        zip.write_all(redactor.redact(&text).as_bytes())
            .map_err(|e| write_error(e.to_string()))?;
        names.push(name);
    }
    zip.finish().map_err(|e| write_error(e.to_string()))?;
    let bytes = std::fs::metadata(request.output)
        .map(|m| m.len())
        .map_err(|e| write_error(e.to_string()))?;
    tracing::info!(path = %request.output.display(), files = names.len(), bytes, "diagnostics collected");
    Ok(BundleSummary {
        path: request.output.to_owned(),
        files: names,
        bytes,
    })
}

/// A log file's text, its last [`MAX_LOG_BYTES`] when larger (cut at a line start).
fn read_tail(path: &Path) -> Result<String, BundleError> {
    let bytes = std::fs::read(path).map_err(|source| BundleError::Read {
        path: path.to_owned(),
        source,
    })?;
    let max = usize::try_from(MAX_LOG_BYTES).unwrap_or(usize::MAX);
    let start = bytes.len().saturating_sub(max);
    let tail = bytes.get(start..).unwrap_or_default();
    let text = String::from_utf8_lossy(tail);
    Ok(if start > 0 {
        text.split_once('\n')
            .map_or(text.to_string(), |(_, rest)| rest.to_owned())
    } else {
        text.into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn unzip(path: &Path) -> Vec<(String, String)> {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut file = archive.by_index(i).unwrap();
                let mut text = String::new();
                file.read_to_string(&mut text).unwrap();
                (file.name().unwrap().to_string(), text)
            })
            .collect()
    }

    #[test]
    fn planted_secrets_never_reach_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let logs = log_dir(data);
        std::fs::create_dir_all(&logs).unwrap();
        // A SIP password and a server token planted in the logs and the settings.
        let sip_password = "Sip-Pa55word-7731";
        let token = "srv_tok_9f8e7d6c5b4a";
        std::fs::write(
            logs.join("seatline.2026-11-29.log"),
            format!(
                "INFO register password={sip_password} ok\nWARN sync Authorization: Bearer {token}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            logs.join("seatline.2026-11-30.log"),
            format!(
                "INFO call c1 answered\nDEBUG body {{\"token\": \"{token}\"}}\nDEBUG raw {sip_password}\nERROR url https://agent:{sip_password}@pbx.example.com\n"
            ),
        )
        .unwrap();
        let settings = data.join("settings.toml");
        std::fs::write(
            &settings,
            format!("language = \"en\"\nserver_url = \"https://desk.example.com\"\nsip_password = \"{sip_password}\"\n"),
        )
        .unwrap();
        let output = data.join("diagnostics.zip");
        let summary = collect(BundleRequest {
            data_dir: data,
            settings_file: &settings,
            versions: vec![("seatline".into(), "0.1.0".into())],
            output: &output,
            known_secrets: vec![sip_password.to_owned(), token.to_owned()],
        })
        .unwrap();
        assert_eq!(
            summary.files,
            vec![
                "versions.txt",
                "settings.toml",
                "logs/seatline.2026-11-30.log",
                "logs/seatline.2026-11-29.log"
            ]
        );
        // The raw bytes of the zip, and every file in it, are free of both secrets.
        let raw = std::fs::read(&output).unwrap();
        for secret in [sip_password, token] {
            assert!(
                !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the zip bytes"
            );
        }
        let files = unzip(&output);
        let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
        assert!(!all.contains(sip_password) && !all.contains(token), "{all}");
        // The useful parts survive.
        assert!(all.contains("call c1 answered"));
        assert!(all.contains("server_url = \"https://desk.example.com\""));
        assert!(all.contains("seatline: 0.1.0"));
    }

    #[test]
    fn secrets_are_redacted_by_shape_even_when_not_known() {
        let dir = tempfile::tempdir().unwrap();
        let logs = log_dir(dir.path());
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(
            logs.join("seatline.2026-11-30.log"),
            "login password=unknown-Secret-1\n",
        )
        .unwrap();
        let output = dir.path().join("d.zip");
        collect(BundleRequest {
            data_dir: dir.path(),
            settings_file: &dir.path().join("missing.toml"),
            versions: Vec::new(),
            output: &output,
            known_secrets: Vec::new(),
        })
        .unwrap();
        let all: String = unzip(&output).into_iter().map(|(_, t)| t).collect();
        assert!(!all.contains("unknown-Secret-1"), "{all}");
    }

    #[test]
    fn only_the_newest_logs_go_in() {
        let dir = tempfile::tempdir().unwrap();
        let logs = log_dir(dir.path());
        std::fs::create_dir_all(&logs).unwrap();
        for day in 20..26 {
            std::fs::write(
                logs.join(format!("seatline.2026-11-{day}.log")),
                format!("day {day}\n"),
            )
            .unwrap();
        }
        let output = dir.path().join("d.zip");
        let summary = collect(BundleRequest {
            data_dir: dir.path(),
            settings_file: &dir.path().join("missing.toml"),
            versions: Vec::new(),
            output: &output,
            known_secrets: Vec::new(),
        })
        .unwrap();
        assert_eq!(summary.files.len(), 1 + MAX_LOG_FILES);
        assert!(summary
            .files
            .contains(&"logs/seatline.2026-11-25.log".to_owned()));
        assert!(!summary
            .files
            .contains(&"logs/seatline.2026-11-20.log".to_owned()));
    }
}
