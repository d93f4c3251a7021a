//! Child processes in their own process group, logged to files, killed (group-wide) on drop.

use crate::error::{io, Error, Result};
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `target/peer-logs/<test name>/` (created). The test name is the current thread's name
/// (libtest names each test's thread after the test's path); `SEATLINE_PEER_LOGS` overrides the
/// root.
pub fn log_dir() -> Result<PathBuf> {
    let root = std::env::var_os("SEATLINE_PEER_LOGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target").join("peer-logs"));
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("unnamed").replace("::", "__");
    let test: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = root.join(test);
    // The first use in this process starts the test's directory afresh.
    static FRESH: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<PathBuf>>> =
        std::sync::OnceLock::new();
    let fresh = FRESH.get_or_init(Default::default);
    let mut seen = match fresh.lock() {
        Ok(seen) => seen,
        Err(poisoned) => poisoned.into_inner(),
    };
    if seen.insert(dir.clone()) {
        let _ = fs::remove_dir_all(&dir);
    }
    drop(seen);
    fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
    Ok(dir)
}

/// Where a binary lives on PATH, or the error naming its Debian package.
pub(crate) fn require_binary(binary: &str, package: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(binary);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::MissingBinary {
        binary: binary.into(),
        package: package.into(),
        extra: String::new(),
    })
}

/// A running peer. Dropping it sends SIGTERM to its process group, then SIGKILL after 2 s.
#[derive(Debug)]
pub struct PeerProcess {
    name: String,
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl PeerProcess {
    /// Starts `command` in a new process group with stdout/stderr appended to
    /// `<log_dir>/<name>.stdout.log` and `.stderr.log`.
    pub fn spawn(name: &str, mut command: Command, log_dir: &Path) -> Result<Self> {
        let stdout = log_dir.join(format!("{name}.stdout.log"));
        let stderr = log_dir.join(format!("{name}.stderr.log"));
        let open = |p: &Path| {
            File::options()
                .create(true)
                .append(true)
                .open(p)
                .map_err(io(format!("open {}", p.display())))
        };
        command
            .stdin(Stdio::null())
            .stdout(open(&stdout)?)
            .stderr(open(&stderr)?)
            .process_group(0);
        let child = command
            .spawn()
            .map_err(io(format!("spawn {name}: {command:?}")))?;
        Ok(Self {
            name: name.into(),
            child: Some(child),
            stdout,
            stderr,
            status: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn stdout_log(&self) -> &Path {
        &self.stdout
    }

    pub fn stderr_log(&self) -> &Path {
        &self.stderr
    }

    /// The exit status if the process has ended.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_some() {
            return Ok(self.status);
        }
        if let Some(child) = self.child.as_mut() {
            self.status = child
                .try_wait()
                .map_err(io(format!("wait for {}", self.name)))?;
        }
        Ok(self.status)
    }

    /// An error if the process has already exited (a peer that should still be running).
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.try_status()? {
            None => Ok(()),
            Some(status) => Err(Error::Exited {
                name: self.name.clone(),
                status: status.to_string(),
                log: self.stderr.clone(),
            }),
        }
    }

    /// Waits for the process to exit; `None` on timeout (the process keeps running).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ends the whole process group: SIGTERM, then SIGKILL after `grace`. Idempotent.
    pub fn kill(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = child.id();
        let signal = |sig: &str| {
            // The child leads its own group (process_group(0)), so -pgid reaches its children
            // too (Kamailio's workers). `kill` is a shell builtin and /bin/kill on Debian.
            let _ = Command::new("kill")
                .args([sig, "--", &format!("-{pgid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        if self.status.is_none() {
            signal("-TERM");
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    self.status = Some(status);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Group members may outlive the leader: always make sure.
        signal("-KILL");
        if self.status.is_none() {
            let _ = child.kill();
            self.status = child.wait().ok();
        }
    }

    /// The last `max` bytes of the stderr and stdout logs, for error messages.
    pub fn log_tail(&self, max: usize) -> String {
        let mut out = String::new();
        for path in [&self.stderr, &self.stdout] {
            if let Ok(text) = fs::read_to_string(path) {
                let start = text.len().saturating_sub(max);
                let start = (start..text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(text.len());
                out.push_str(&format!(
                    "--- {} (tail)\n{}\n",
                    path.display(),
                    &text[start..]
                ));
            }
        }
        out
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.kill(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_names_package_and_setup_hint() {
        let err = require_binary("seatline-no-such-peer", "some-package").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("some-package"), "{text}");
        assert!(text.contains("scripts/setup.sh --for-tests"), "{text}");
    }

    #[test]
    fn drop_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("sleep 300 & echo $! > {}; wait", pidfile.display()));
        let p = PeerProcess::spawn("sleeper", cmd, dir.path()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let grandchild = loop {
            if let Ok(text) = fs::read_to_string(&pidfile) {
                if let Ok(pid) = text.trim().parse::<u32>() {
                    break pid;
                }
            }
            assert!(Instant::now() < deadline, "grandchild never started");
            std::thread::sleep(Duration::from_millis(20));
        };
        let proc_dir = PathBuf::from(format!("/proc/{grandchild}"));
        assert!(proc_dir.exists());
        drop(p);
        // The grandchild is reaped by init; give it a moment.
        let deadline = Instant::now() + Duration::from_secs(3);
        while proc_dir.exists() {
            let state = fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
            if state.contains(") Z") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "grandchild {grandchild} survived the drop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
