//! Choosing the data directory: explicit path, then environment, then the OS default.

use crate::SettingsError;
use std::path::{Path, PathBuf};

/// The environment variable that overrides the OS data directory.
pub const DATA_DIR_ENV: &str = "SEATLINE_DATA_DIR";

/// Where the chosen data directory came from, for `seatline info` and support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDirSource {
    Argument,
    Environment,
    OsDefault,
}

impl std::fmt::Display for DataDirSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Argument => "--data-dir",
            Self::Environment => DATA_DIR_ENV,
            Self::OsDefault => "OS default",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDataDir {
    pub path: PathBuf,
    pub source: DataDirSource,
}

/// Resolves and creates the data directory. `env_value` is the value of `SEATLINE_DATA_DIR`,
/// passed in so callers (and tests) decide where it comes from; an empty value counts as unset.
pub fn resolve_data_dir(
    argument: Option<&Path>,
    env_value: Option<&str>,
) -> Result<ResolvedDataDir, SettingsError> {
    let (path, source) = if let Some(path) = argument {
        (path.to_path_buf(), DataDirSource::Argument)
    } else if let Some(value) = env_value.filter(|v| !v.trim().is_empty()) {
        (PathBuf::from(value), DataDirSource::Environment)
    } else {
        let dirs = directories::ProjectDirs::from("com", "Seatline", "Seatline")
            .ok_or(SettingsError::NoHomeDirectory)?;
        (dirs.data_dir().to_path_buf(), DataDirSource::OsDefault)
    };
    std::fs::create_dir_all(&path).map_err(|source| SettingsError::CreateDataDir {
        path: path.clone(),
        source,
    })?;
    Ok(ResolvedDataDir { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_wins_over_environment() {
        let dir = tempfile::tempdir().unwrap();
        let arg = dir.path().join("from-arg");
        let env = dir.path().join("from-env");
        let resolved = resolve_data_dir(Some(&arg), env.to_str()).unwrap();
        assert_eq!(resolved.path, arg);
        assert_eq!(resolved.source, DataDirSource::Argument);
        assert!(arg.is_dir());
        assert!(!env.exists());
    }

    #[test]
    fn environment_is_used_without_argument_and_created() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("nested/from-env");
        let resolved = resolve_data_dir(None, env.to_str()).unwrap();
        assert_eq!(resolved.path, env);
        assert_eq!(resolved.source, DataDirSource::Environment);
        assert!(env.is_dir());
    }

    #[test]
    fn empty_environment_falls_back_to_the_os_directory() {
        // Only checks where it points: creating the user's real directory is harmless here.
        let resolved = resolve_data_dir(None, Some("  ")).unwrap();
        assert_eq!(resolved.source, DataDirSource::OsDefault);
        let shown = resolved.path.to_string_lossy().to_lowercase();
        assert!(shown.contains("seatline"), "{shown}");
    }

    #[test]
    fn a_file_in_the_way_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("occupied");
        std::fs::write(&file, b"x").unwrap();
        let err = resolve_data_dir(Some(&file.join("data")), None).unwrap_err();
        assert!(matches!(err, SettingsError::CreateDataDir { .. }));
        assert!(err.to_string().contains("occupied"), "{err}");
    }
}
