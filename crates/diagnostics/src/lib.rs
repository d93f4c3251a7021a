//! Diagnostics for support: log files that rotate daily in the data directory's `logs` folder
//! with a bounded number kept ([`logs`]), and the "collect diagnostics" bundle, a zip of the
//! recent logs, the settings and the versions with every secret redacted ([`bundle`],
//! [`redact`]).

pub mod bundle;
pub mod logs;
pub mod redact;

pub use bundle::{collect, BundleError, BundleRequest, BundleSummary};
pub use logs::{
    init_file_logging, log_dir, log_filter, log_spec, LogError, LogGuard, LOG_FILES_KEPT,
    LOG_FILE_PREFIX,
};
pub use redact::Redactor;
