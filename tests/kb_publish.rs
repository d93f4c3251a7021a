//! `seatline kb publish` against the real `seatline-server` binary: a supervisor publishes a
//! folder (a bad file is reported and skipped), publishing it again changes nothing, `--replace`
//! deletes what the folder no longer has, and an agent is refused.
//!
//! Needs the `seatline` and `seatline-server` binaries of the same build (`cargo test
//! --workspace` builds them; alone: `cargo build -p seatline-cli -p seatline-server` first).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use support::{bin, run, Server, PASSWORD};

fn publish(desk: &Path, dir: &Path, url: &str, user: &str, replace: bool) -> Output {
    let mut command = Command::new(bin("seatline"));
    command.arg("--data-dir").arg(desk).args(["kb", "publish"]);
    command
        .arg(dir)
        .args(["--server", url, "--tenant", "demo", "--user", user]);
    if replace {
        command.arg("--replace");
    }
    run(command, Some(&format!("{PASSWORD}\n")))
}

fn report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_supervisor_publishes_a_folder_and_an_agent_cannot() {
    let server_dir = tempfile::tempdir().unwrap();
    let mut seed = Command::new(bin("seatline-server"));
    seed.args(["seed", "--tenant", "demo", "--data-dir"])
        .arg(server_dir.path());
    let seeded = run(seed, Some(&format!("{PASSWORD}\n")));
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let mut server = Server::new(server_dir.path().to_path_buf(), None);
    server.start(None);
    let url = server.url();

    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("outage.md"),
        "# 宽带断网处理\n\n先确认光猫指示灯。\n",
    )
    .unwrap();
    std::fs::write(
        folder.path().join("roaming.md"),
        "# 國際漫遊開通\n\n出國前請先開通。\n",
    )
    .unwrap();
    std::fs::write(folder.path().join("broken.md"), "no title here\n").unwrap();
    let desk = tempfile::tempdir().unwrap();

    let first = report(&publish(
        desk.path(),
        folder.path(),
        &url,
        "supervisor",
        false,
    ));
    assert_eq!(first["stored"], serde_json::json!(["outage", "roaming"]));
    assert_eq!(first["skipped"][0]["file"], "broken.md");
    assert_eq!(first["revision"], 2);

    let again = report(&publish(
        desk.path(),
        folder.path(),
        &url,
        "supervisor",
        false,
    ));
    assert_eq!(again["unchanged"], serde_json::json!(["outage", "roaming"]));
    assert_eq!(again["revision"], 2);

    std::fs::remove_file(folder.path().join("roaming.md")).unwrap();
    let replaced = report(&publish(
        desk.path(),
        folder.path(),
        &url,
        "supervisor",
        true,
    ));
    assert_eq!(replaced["deleted"], serde_json::json!(["roaming"]));
    assert_eq!(replaced["unchanged"], serde_json::json!(["outage"]));
    assert_eq!(replaced["revision"], 3);

    let refused = publish(desk.path(), folder.path(), &url, "agent", false);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("403") && stderr.contains("supervisor role"),
        "{stderr}"
    );
    // The wrong password is a clear login failure, not a publish.
    let mut wrong = Command::new(bin("seatline"));
    wrong
        .arg("--data-dir")
        .arg(desk.path())
        .args(["kb", "publish"])
        .arg(folder.path())
        .args(["--server", &url, "--tenant", "demo", "--user", "supervisor"]);
    let out = run(wrong, Some("not the password\n"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot log in"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
