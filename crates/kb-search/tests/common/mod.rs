//! Helpers shared by the integration tests that read the shared seed corpus.

use std::path::{Path, PathBuf};

/// The seed corpus: `$KB_SEED_CORPUS`, else `shared/data/kb-seed-corpus` beside the
/// repository. Missing outside CI → None (the caller's scoring is skipped, said on stderr);
/// missing in CI → panic, because CI always has `shared/` beside the clone and a missing
/// corpus there is a broken set-up, not a reason to skip a floor.
pub fn seed_corpus_dir(what: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("KB_SEED_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kb-seed-corpus")
        });
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var_os("CI").is_some() {
        panic!("seed corpus not found at {} in CI", dir.display());
    } else {
        eprintln!(
            "SKIPPED: seed corpus not found at {} (set KB_SEED_CORPUS); {what} not scored",
            dir.display()
        );
        None
    }
}
