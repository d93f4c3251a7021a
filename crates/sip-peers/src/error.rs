use std::path::PathBuf;
use std::time::Duration;

/// What the harness reports; every variant says where to look next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "`{binary}` not found on PATH (Debian package `{package}`): run `scripts/setup.sh --for-tests`{extra}"
    )]
    MissingBinary {
        binary: String,
        package: String,
        extra: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} did not happen within {after:?}{logs}")]
    Timeout {
        what: String,
        after: Duration,
        logs: String,
    },
    #[error("{name} exited early with {status}; see {log}")]
    Exited {
        name: String,
        status: String,
        log: PathBuf,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("baresip ctrl_tcp: {0}")]
    Ctrl(String),
    #[error("PESQ: {0}")]
    Pesq(String),
    #[error("SIP: {0}")]
    Sip(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
