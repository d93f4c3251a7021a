//! Real SIP peers for integration tests, on loopback: a Kamailio registrar/proxy with digest
//! auth ([`Kamailio`]), sipp scenarios ([`Sipp`]), baresip user agents driven over `ctrl_tcp`
//! ([`Baresip`], [`CtrlClient`]), PESQ scoring of received audio ([`pesq::score`]) and a small
//! digest REGISTER client ([`digest::register`]) for SHA-256, which neither sipp 3.6 nor
//! baresip 1.0 speak.
//!
//! Every peer runs in its own process group, is killed (the whole group) when its handle is
//! dropped, and logs stdout/stderr to `target/peer-logs/<test name>/` (the test name is the
//! current thread's name, which libtest sets to the test's path; override the root with
//! `SEATLINE_PEER_LOGS`). A missing binary is an error ([`Error::MissingBinary`]) that names
//! the Debian package and `scripts/setup.sh --for-tests`: tests never skip silently.
//!
//! ```no_run
//! use seatline_sip_peers::{Baresip, BaresipConfig, DigestAlgorithm, Kamailio, KamailioConfig};
//! use std::time::Duration;
//! # fn main() -> Result<(), seatline_sip_peers::Error> {
//! let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Sha256))?;
//! // baresip 1.0 only speaks MD5 digests: register its address on its behalf.
//! let mut callee = Baresip::start(BaresipConfig::new("1002").auto_answer(true))?;
//! proxy.register_contact("1002", callee.sip_addr(), 300)?;
//! // ... the phone under test registers at proxy.addr() as 1001 / proxy.password("1001")
//! // and calls sip:1002@<proxy.addr()>:
//! callee.ctrl().wait_for_event("CALL_ESTABLISHED", Duration::from_secs(10))?;
//! # Ok(()) }
//! ```

mod baresip;
pub mod digest;
mod error;
mod kamailio;
pub mod pesq;
mod ports;
mod process;
pub mod pulse;
pub mod relay;
mod sipp;

pub use baresip::{AudioMode, Baresip, BaresipConfig, Codec, CtrlClient, CtrlEvent, CtrlResponse};
pub use error::{Error, Result};
pub use kamailio::{DigestAlgorithm, Kamailio, KamailioConfig, KamailioTls};
pub use ports::{free_port, free_port_range};
pub use process::{log_dir, PeerProcess};
pub use relay::{Impairment, ImpairmentRelay, Jitter, Loss};
pub use sipp::{Malformation, Scenario, Sipp, SippBackground, SippOptions, SippRun, SippTransport};

use std::path::PathBuf;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(here)
}

/// `tests/peers/` in the repository: scenario files, config templates, reference audio.
pub fn peers_dir() -> PathBuf {
    repo_root().join("tests").join("peers")
}

/// The reference speech file (8 kHz mono 16-bit, 8 s, espeak-ng).
pub fn speech_wav() -> PathBuf {
    peers_dir().join("audio").join("speech-8k.wav")
}
