//! The outbox on a full disk: a desktop whose data directory is a small tmpfs (mounted only
//! when running as root, as CI does; skipped otherwise) queues orders, the disk fills up, and
//! creating or noting an order must fail with a clear "disk is full" error while everything
//! already queued stays and can still be listed (the store opens for reading only); once space
//! is freed, work goes on and the queue drains to the real server with nothing lost and nothing
//! of the refused changes.
//!
//! Needs the `seatline` and `seatline-server` binaries of the same build (`cargo build -p
//! seatline-cli -p seatline-server`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use support::{setup_server, Desktop, Server};

/// The tmpfs, unmounted on drop.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_full_disk_refuses_new_changes_clearly_and_keeps_the_queue() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("ann");
    std::fs::create_dir(&data).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&data)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (no CAP_SYS_ADMIN?)");
        return;
    }
    let _mount = Mount(data.clone());
    let mut server = Server::new(root.path().join("server"), None);
    let team = setup_server(&mut server);
    let desk = Desktop {
        name: "ann",
        dir: data.clone(),
        skew_secs: 0,
    };
    assert!(desk.sync(&server, None, 10).status.success());
    let create = |marker: &str| {
        desk.cli(
            &[
                "orders",
                "create",
                "--team",
                &team,
                "--customer",
                "cust",
                "--category",
                marker,
            ],
            None,
        )
    };
    let mut queued = Vec::new();
    for i in 0..5 {
        let marker = format!("queued-{i}");
        let out = create(&marker);
        assert!(out.status.success(), "{out:?}");
        queued.push(marker);
    }
    let first: serde_json::Value = serde_json::from_slice(&create("queued-5").stdout).unwrap();
    queued.push("queued-5".to_owned());

    // Fill the disk to the last block.
    let filler_path = data.join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut small = vec![0u8; 512];
    loop {
        if filler.write_all(&block).is_err() {
            // Top up what a whole block no longer fits into.
            while filler.write_all(&small).is_ok() {}
            small.truncate(1);
            while filler.write_all(&small).is_ok() {}
            break;
        }
    }
    let _ = filler.sync_all();

    let refused = create("refused-create");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "a create on a full disk succeeded"
    );
    assert!(
        stderr.contains("disk") && stderr.contains("full") && !stderr.contains("panicked"),
        "not a clear error: {stderr}"
    );
    let id = first["id"].as_str().unwrap();
    let note = desk.cli(&["orders", "note", id, "refused-note"], None);
    assert!(!note.status.success(), "a note on a full disk succeeded");
    assert!(
        String::from_utf8_lossy(&note.stderr).contains("full"),
        "{}",
        String::from_utf8_lossy(&note.stderr)
    );
    // Reading still works on a full disk (the store opens for reading only) and shows every
    // queued order and none of the refused ones.
    let while_full: Vec<String> = desk.orders().values().map(|o| o.category.clone()).collect();
    for marker in &queued {
        assert!(
            while_full.contains(marker),
            "{marker} not listed on a full disk"
        );
    }
    assert!(!while_full.iter().any(|c| c == "refused-create"));

    // Space again: work goes on, and the queue drains with nothing lost or refused added.
    drop(filler);
    std::fs::remove_file(&filler_path).unwrap();
    // Nothing queued was lost.
    let listed: Vec<String> = desk.orders().values().map(|o| o.category.clone()).collect();
    for marker in &queued {
        assert!(listed.contains(marker), "{marker} lost on a full disk");
    }
    assert!(!listed.iter().any(|c| c == "refused-create"));
    assert!(create("after").status.success());
    let out = desk.sync(&server, None, 10);
    assert!(out.status.success(), "{out:?}");
    let orders = desk.orders();
    let mut categories: Vec<String> = orders.values().map(|o| o.category.clone()).collect();
    categories.sort();
    let mut expected = queued.clone();
    expected.push("after".to_owned());
    expected.sort();
    assert_eq!(categories, expected);
    assert!(orders
        .values()
        .all(|o| o.notes.iter().all(|n| n.text != "refused-note")));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pending"], 0, "{status}");
}
