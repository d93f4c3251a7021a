//! Fault injection with real processes: the `seatline-server` binary (on SQLite, and on a
//! private PostgreSQL cluster the test starts), three desktops
//! driven through the `seatline` CLI (each its own data directory and outbox), and crashes
//! (`SEATLINE_FAILPOINT`, which aborts like `kill -9`) before the local commit, after the local
//! commit, after the server's commit before its answer, and after the answer before the local
//! acknowledgement; plus `kill -9` of the server. Seeded: every failure prints the seed, and
//! `SEATLINE_FAULT_SEED=… SEATLINE_FAULT_TRIALS=…` replays or lengthens a run.
//!
//! After the faults, the network heals: every queue must drain within 10 s, every desktop must
//! converge on the same orders, no acknowledged change may be lost, none applied twice, and
//! every status history must be legal.
//!
//! Needs the `seatline` and `seatline-server` binaries of the same build (`cargo test
//! --workspace` builds them; alone: `cargo build -p seatline-cli -p seatline-server` first).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::{aborted, check_converged, setup_server, Desktop, Expect, Rng, Server, AGENTS};

fn run_trials(seed: u64, trials: u64, database_url: Option<String>) {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::new(root.path().join("server"), database_url);
    let team = setup_server(&mut server);
    // One clock right, one 3 hours ahead, one 5 hours behind.
    let desktops: Vec<Desktop> = AGENTS
        .iter()
        .zip([0, 3 * 3600, -5 * 3600])
        .map(|(name, skew_secs)| Desktop {
            name,
            dir: root.path().join(name),
            skew_secs,
        })
        .collect();
    let started = time::OffsetDateTime::now_utc();
    // First login of every desktop (records the account for offline work).
    for d in &desktops {
        let out = d.sync(&server, None, 10);
        assert!(
            out.status.success(),
            "seed {seed}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let mut rng = Rng(seed | 1);
    let mut expect = Expect::default();
    let mut known: HashMap<&'static str, Vec<String>> = HashMap::new();
    let local_points = [
        None,
        None,
        None,
        Some("before_local_commit"),
        Some("after_local_commit"),
    ];
    let statuses = ["in_progress", "waiting_on_customer", "resolved", "closed"];

    for trial in 0..trials {
        let d = rng.pick(&desktops);
        let ctx = || format!("seed {seed}, trial {trial}, desktop {}", d.name);
        match rng.below(10) {
            0..=2 => {
                let marker = format!("c{trial}");
                let point = *rng.pick(&local_points);
                let out = d.cli(
                    &[
                        "orders",
                        "create",
                        "--team",
                        &team,
                        "--customer",
                        "cust",
                        "--category",
                        &marker,
                    ],
                    point,
                );
                if out.status.success() {
                    let id: Value = serde_json::from_slice(&out.stdout).unwrap();
                    known
                        .entry(d.name)
                        .or_default()
                        .push(id["id"].as_str().unwrap().to_owned());
                    expect.orders_present.push(marker);
                } else {
                    assert!(
                        aborted(&out),
                        "{}: {}",
                        ctx(),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    match point {
                        Some("before_local_commit") => expect.orders_absent.push(marker),
                        _ => expect.orders_present.push(marker),
                    }
                }
            }
            3..=4 => {
                let ids: Vec<String> = d.orders().into_keys().collect();
                if ids.is_empty() {
                    continue;
                }
                let id = rng.pick(&ids).clone();
                let marker = format!("n{trial}");
                let point = *rng.pick(&local_points);
                let out = d.cli(&["orders", "note", &id, &marker], point);
                if out.status.success() {
                    expect.notes_present.push(marker);
                } else if aborted(&out) && point == Some("before_local_commit") {
                    expect.notes_absent.push(marker);
                } else if aborted(&out) {
                    expect.notes_present.push(marker);
                } else {
                    // Refused locally (e.g. the order is closed here): nothing recorded.
                    expect.notes_absent.push(marker);
                }
            }
            5 => {
                let ids: Vec<String> = d.orders().into_keys().collect();
                if let Some(id) = ids.first() {
                    let status = rng.pick(&statuses);
                    // May be refused locally (illegal step) or later by the server: both fine.
                    let _ = d.cli(&["orders", "status", id, status], None);
                }
            }
            6..=7 => {
                let point = if rng.below(3) == 0 {
                    Some("after_push_response")
                } else {
                    None
                };
                let out = d.sync(&server, point, 3);
                if point.is_some() {
                    // Either it had nothing to push (finished) or it crashed after the answer.
                    assert!(out.status.success() || aborted(&out), "{}", ctx());
                }
            }
            8 => {
                // The server dies right after committing a mutation, before answering.
                server.kill();
                server.start(Some("after_server_commit"));
                let _ = d.sync(&server, None, 2);
                server.kill();
                server.start(None);
            }
            _ => {
                server.kill();
                server.start(None);
            }
        }
    }

    // Heal: the server runs normally; every queue drains within 10 s of the heal.
    server.kill();
    server.start(None);
    for round in 0..2 {
        for d in &desktops {
            let started = Instant::now();
            let out = d.sync(&server, None, 10);
            assert!(
                out.status.success(),
                "seed {seed}: {} did not drain within 10 s in round {round}: {} {}",
                d.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(started.elapsed() < Duration::from_secs(11), "seed {seed}");
        }
    }

    let orders = check_converged(seed, &desktops, &expect, started);
    eprintln!(
        "seed {seed}: {trials} trials, {} orders, {} notes checked present, {} absent",
        orders.len(),
        expect.notes_present.len(),
        expect.notes_absent.len() + expect.orders_absent.len()
    );
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn no_change_is_lost_or_doubled_across_crashes_and_server_kills() {
    let seed = env_or("SEATLINE_FAULT_SEED", 20_261_122);
    let trials = env_or("SEATLINE_FAULT_TRIALS", 40);
    eprintln!("sync fault test: seed {seed}, {trials} trials (SEATLINE_FAULT_SEED to replay)");
    run_trials(seed, trials, None);
}

/// The same on PostgreSQL: a `kill -9` of the server mid-transaction leaves PostgreSQL to
/// roll back what it had not committed (SQLite's WAL does it for the file).
#[test]
fn no_change_is_lost_or_doubled_across_crashes_and_server_kills_postgres() {
    let seed = env_or("SEATLINE_FAULT_SEED", 20_261_202);
    let trials = env_or("SEATLINE_FAULT_PG_TRIALS", 40);
    eprintln!(
        "sync fault test (PostgreSQL): seed {seed}, {trials} trials (SEATLINE_FAULT_SEED to replay)"
    );
    let cluster = support::pg::PgCluster::start();
    run_trials(seed, trials, Some(cluster.url()));
}
