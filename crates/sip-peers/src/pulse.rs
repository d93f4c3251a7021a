//! A private PulseAudio daemon with a 48 kHz null sink as the default sink and its monitor as
//! the default source: real sound devices on a machine without a sound card (CI). What a test
//! plays to the default output comes back on the default input. The ALSA pulse plugin of the
//! test process finds the daemon through `PULSE_SERVER`, so one null sink at a time per process:
//! hold [`NullSink::lock`] around its use.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::process::require_binary;

/// One PulseAudio at a time: the tests of a process share its environment (`PULSE_SERVER`).
static PULSE: Mutex<()> = Mutex::new(());

/// The running daemon; killed (and `PULSE_SERVER` removed) on drop.
pub struct NullSink {
    child: Child,
    _dir: tempfile::TempDir,
}

fn isolate(command: &mut Command, runtime: &Path, home: &Path) {
    command
        .env("XDG_RUNTIME_DIR", runtime)
        .env("HOME", home)
        .env_remove("PULSE_SERVER")
        .env_remove("PULSE_LATENCY_MSEC");
}

impl NullSink {
    /// Serialises the process's null-sink tests (a panicking test does not poison the others).
    pub fn lock() -> MutexGuard<'static, ()> {
        PULSE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts the daemon and waits until it answers (10 s at most).
    pub fn start() -> Result<NullSink> {
        let pulseaudio = require_binary("pulseaudio", "pulseaudio")?;
        let pactl_bin = require_binary("pactl", "pulseaudio-utils")?;
        let io = |context: &str| {
            let context = context.to_owned();
            move |source| Error::Io { context, source }
        };
        let dir = tempfile::tempdir().map_err(io("a PulseAudio runtime directory"))?;
        let runtime = dir.path().join("run");
        let home = dir.path().to_path_buf();
        std::fs::create_dir(&runtime).map_err(io("a PulseAudio runtime directory"))?;
        let mut command = Command::new(pulseaudio);
        isolate(&mut command, &runtime, &home);
        let child = command
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--load=module-native-protocol-unix",
                "--load=module-null-sink sink_name=nullsink rate=48000",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("starting pulseaudio"))?;
        let sink = NullSink { child, _dir: dir };
        let pactl = |args: &[&str]| {
            let mut c = Command::new(&pactl_bin);
            isolate(&mut c, &runtime, &home);
            c.args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let wait = Duration::from_secs(10);
        let deadline = Instant::now() + wait;
        while !pactl(&["info"]) {
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: "PulseAudio answering".into(),
                    after: wait,
                    logs: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !pactl(&["set-default-sink", "nullsink"])
            || !pactl(&["set-default-source", "nullsink.monitor"])
        {
            return Err(Error::Config(
                "pactl could not make the null sink the default".into(),
            ));
        }
        std::env::set_var(
            "PULSE_SERVER",
            format!("unix:{}", runtime.join("pulse/native").display()),
        );
        Ok(sink)
    }
}

impl NullSink {
    /// Kills the daemon now (the sound server dying under a running stream).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NullSink {
    fn drop(&mut self) {
        self.kill();
        std::env::remove_var("PULSE_SERVER");
    }
}
