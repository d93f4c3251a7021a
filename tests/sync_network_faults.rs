//! Network faults between the desktops and the server: the real `seatline-server` binary and
//! three desktops driven through the `seatline` CLI, talking through a TCP proxy
//! (tests/support/fault_proxy.rs) that delays requests, trickles answers, resets the connection
//! after the server answered (committed, but the client never hears of it), cuts requests
//! part-way, blackholes them (only the client's timeouts end the wait) and sends pushes to the
//! server a second time after the desktop has moved on (duplicated and reordered). The desktops work
//! at the same time on the same orders (notes, status changes) and on new ones, syncing through
//! the broken network with short timeouts; every sync must end within its `--timeout-secs`,
//! whatever the network does. Then the network heals: every queue must drain, every desktop
//! converge, no change be lost or applied twice, every status history be legal (the checks of
//! tests/sync_faults.rs, shared in tests/support).
//!
//! Seeded: the seed is printed; `SEATLINE_NETFAULT_SEED=… SEATLINE_NETFAULT_ROUNDS=…` replay or
//! lengthen a run (`SEATLINE_NETFAULT_PERCENT` sets the share of faulty requests, default 60).
//! The proxy draws request n's fault from the seed and n; which desktop sends the n-th request
//! depends on how the processes interleave, so a replay repeats the faults, not the schedule.
//! Runs on SQLite and on PostgreSQL (a private cluster, like the server's own tests).
//!
//! Needs the `seatline` and `seatline-server` binaries of the same build (`cargo build -p
//! seatline-cli -p seatline-server`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};
use support::fault_proxy::{FaultProxy, FAULTS};
use support::{check_converged, setup_server, Desktop, Expect, Rng, Server, AGENTS};

/// Short timeouts so a blackholed request fails (and is retried on a fresh connection) within
/// one sync; the defaults are 5 s / 15 s / 30 s.
const TIMEOUTS: [&str; 6] = [
    "--connect-timeout-ms",
    "1000",
    "--read-timeout-ms",
    "1000",
    "--request-timeout-ms",
    "2500",
];
/// Each sync under faults gets this long; it must end by then (plus process start and exit).
const SYNC_SECS: u64 = 3;
/// Process start and exit of a debug CLI on a loaded machine (~1 s each) are outside the budget.
const SYNC_SLACK: Duration = Duration::from_secs(6);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One desktop's work while the network is broken: creates, notes and status changes on its
/// own and shared orders, and syncs through the proxy. Returns what must hold at the end and
/// how many of its syncs failed.
fn work(
    seed: u64,
    index: u64,
    desktop: &Desktop,
    team: &str,
    url: &str,
    rounds: u64,
) -> (Expect, u64) {
    let mut failed_syncs = 0;
    let mut rng = Rng((seed ^ (index + 1).wrapping_mul(0xA076_1D64_78BD_642F)) | 1);
    let mut expect = Expect::default();
    let statuses = ["in_progress", "waiting_on_customer", "resolved", "closed"];
    let name = desktop.name;
    let ctx = |round: u64| format!("seed {seed}, desktop {name}, round {round}");
    for round in 0..rounds {
        match rng.below(10) {
            0..=1 => {
                let marker = format!("{name}-c{round}");
                let out = desktop.cli(
                    &[
                        "orders",
                        "create",
                        "--team",
                        team,
                        "--customer",
                        "cust",
                        "--category",
                        &marker,
                    ],
                    None,
                );
                // Offline work never depends on the network.
                assert!(
                    out.status.success(),
                    "{}: {}",
                    ctx(round),
                    String::from_utf8_lossy(&out.stderr)
                );
                expect.orders_present.push(marker);
            }
            2..=3 => {
                let ids: Vec<String> = desktop.orders().into_keys().collect();
                let id = rng.pick(&ids).clone();
                let marker = format!("{name}-n{round}");
                let out = desktop.cli(&["orders", "note", &id, &marker], None);
                if out.status.success() {
                    expect.notes_present.push(marker);
                } else {
                    // Refused locally (the order is closed here): nothing recorded.
                    expect.notes_absent.push(marker);
                }
            }
            4..=5 => {
                let ids: Vec<String> = desktop.orders().into_keys().collect();
                let id = rng.pick(&ids).clone();
                let status = rng.pick(&statuses);
                // May be refused here (illegal step) or later by the server: both fine.
                let _ = desktop.cli(&["orders", "status", &id, status], None);
            }
            _ => {
                let started = Instant::now();
                let out = desktop.sync_via(url, None, SYNC_SECS, &TIMEOUTS);
                let took = started.elapsed();
                failed_syncs += u64::from(!out.status.success());
                let stderr = String::from_utf8_lossy(&out.stderr);
                // Drained, ran out of time (3), or could not even log in: never a hang.
                assert!(
                    took < Duration::from_secs(SYNC_SECS) + SYNC_SLACK,
                    "{}: a sync through the broken network took {took:?} (limit {SYNC_SECS} s): {stderr}",
                    ctx(round)
                );
                assert!(!stderr.contains("panicked"), "{}: {stderr}", ctx(round));
            }
        }
    }
    // Two more syncs through the broken network: every run sends enough requests to meet each
    // kind of fault.
    for round in rounds..rounds + 2 {
        let started = Instant::now();
        let out = desktop.sync_via(url, None, SYNC_SECS, &TIMEOUTS);
        let took = started.elapsed();
        failed_syncs += u64::from(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            took < Duration::from_secs(SYNC_SECS) + SYNC_SLACK,
            "{}: a sync through the broken network took {took:?}: {stderr}",
            ctx(round)
        );
        assert!(!stderr.contains("panicked"), "{}: {stderr}", ctx(round));
    }
    (expect, failed_syncs)
}

/// Three desktops (clocks right, 3 h ahead, 5 h behind) log in and create one order each, and
/// all see all three: the desktops, what must hold so far, and when the run started.
fn healthy_start(
    seed: u64,
    root: &std::path::Path,
    server: &Server,
    team: &str,
) -> (Vec<Desktop>, Expect, time::OffsetDateTime) {
    let desktops: Vec<Desktop> = AGENTS
        .iter()
        .zip([0, 3 * 3600, -5 * 3600])
        .map(|(name, skew_secs)| Desktop {
            name,
            dir: root.join(name),
            skew_secs,
        })
        .collect();
    let started = time::OffsetDateTime::now_utc();
    let mut expect = Expect::default();
    for d in &desktops {
        let out = d.sync(server, None, 10);
        assert!(out.status.success(), "seed {seed}: {out:?}");
        let marker = format!("{}-shared", d.name);
        let out = d.cli(
            &[
                "orders",
                "create",
                "--team",
                team,
                "--customer",
                "cust",
                "--category",
                &marker,
            ],
            None,
        );
        assert!(out.status.success(), "seed {seed}: {out:?}");
        expect.orders_present.push(marker);
        assert!(d.sync(server, None, 10).status.success());
    }
    for d in &desktops {
        assert!(d.sync(server, None, 10).status.success());
        assert_eq!(d.orders().len(), desktops.len(), "seed {seed}");
    }
    (desktops, expect, started)
}

/// After the heal: two rounds of syncs in which every desktop drains within 10 s.
fn drain_all(seed: u64, desktops: &[Desktop], url: &str) {
    for round in 0..2 {
        for d in desktops {
            let out = d.sync_via(url, None, 10, &[]);
            assert!(
                out.status.success(),
                "seed {seed}: {} did not drain within 10 s of the heal in round {round}: {} {}",
                d.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn scenario(backend: &str, database_url: Option<String>, seed: u64, rounds: u64) {
    let percent = env_or("SEATLINE_NETFAULT_PERCENT", 60);
    eprintln!(
        "sync network-fault test ({backend}): seed {seed}, {rounds} rounds per desktop, \
         {percent}% faulty requests (SEATLINE_NETFAULT_SEED to replay)"
    );
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::new(root.path().join("server"), database_url);
    let team = setup_server(&mut server);
    let (desktops, mut expect, started) = healthy_start(seed, root.path(), &server, &team);

    // The network breaks; the three desktops work at once.
    let proxy = FaultProxy::start(server.addr(), seed, percent);
    let url = proxy.url();
    let outcomes: Vec<(Expect, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = desktops
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (team, url) = (&team, &url);
                scope.spawn(move || work(seed, i as u64, d, team, url, rounds))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (outcome, _) in outcomes {
        expect.merge(outcome);
    }
    let counts = proxy.counts();
    eprintln!("seed {seed}: requests through the broken network: {counts:?}");

    // Heal: every queue drains through the (now healthy) proxy within 10 s (once the replays
    // still on their way have reached the server).
    proxy.heal();
    let replayed = proxy.replayed();
    eprintln!("seed {seed}: replayed: {replayed:?}");
    // A push sent again after the desktop moved on is answered (as the duplicate it is) and,
    // as the checks below show, applies nothing twice and undoes nothing newer.
    assert!(
        replayed
            .iter()
            .any(|r| r.starts_with("POST /api/v1/sync/push ") && r.ends_with(" 200 OK")),
        "seed {seed}: no push was replayed and answered 200: {replayed:?}"
    );
    drain_all(seed, &desktops, &url);
    let orders = check_converged(seed, &desktops, &expect, started);

    // The run really went through every kind of fault.
    for fault in FAULTS {
        assert!(
            counts.get(&fault).copied().unwrap_or(0) > 0,
            "seed {seed}: no request met {fault:?} (too few rounds?): {counts:?}"
        );
    }
    eprintln!(
        "seed {seed} ({backend}): {} orders, {} notes present, {} changes checked absent",
        orders.len(),
        expect.notes_present.len(),
        expect.notes_absent.len() + expect.orders_absent.len()
    );
}

fn seed() -> u64 {
    env_or("SEATLINE_NETFAULT_SEED", 20_261_201)
}

#[test]
fn nothing_is_lost_or_doubled_through_a_broken_network_sqlite() {
    scenario(
        "sqlite",
        None,
        seed(),
        env_or("SEATLINE_NETFAULT_ROUNDS", 6),
    );
}

#[test]
fn nothing_is_lost_or_doubled_through_a_broken_network_postgres() {
    let cluster = support::pg::PgCluster::start();
    scenario(
        "postgres",
        Some(cluster.url()),
        seed(),
        env_or("SEATLINE_NETFAULT_ROUNDS", 4),
    );
}

/// `kill -<signal> pid`.
fn signal(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// A server frozen (SIGSTOP: a VM paused by its host, a process swapped out or stopped in a
/// debugger) while three desktops work and sync: the kernel still accepts connections and
/// requests, nothing answers. Every sync ends within its budget and offline work goes on; on
/// SIGCONT the server works through the requests that waited in its sockets, sent by desktops
/// that have since given up: late duplicates of what those desktops send again. The server freezes for 3 s out of
/// every 4 until the desktops are done. Then every queue drains, every desktop converges, and
/// no change is lost or applied twice. SQLite.
#[test]
fn a_frozen_server_costs_time_but_loses_nothing() {
    let seed = seed();
    let rounds = env_or("SEATLINE_NETFAULT_ROUNDS", 10);
    eprintln!("frozen-server test: seed {seed}, {rounds} rounds per desktop");
    let root = tempfile::tempdir().unwrap();
    let mut server = Server::new(root.path().join("server"), None);
    let team = setup_server(&mut server);
    let (desktops, mut expect, started) = healthy_start(seed, root.path(), &server, &team);
    let pid = server.child.as_ref().unwrap().id();
    let url = server.url();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut freezes = 0;
    let outcomes: Vec<(Expect, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = desktops
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (team, url, done) = (&team, &url, &done);
                scope.spawn(move || {
                    let outcome = work(seed, i as u64, d, team, url, rounds);
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    outcome
                })
            })
            .collect();
        while done.load(std::sync::atomic::Ordering::SeqCst) < desktops.len() {
            std::thread::sleep(Duration::from_secs(1));
            signal("-STOP", pid);
            freezes += 1;
            std::thread::sleep(Duration::from_secs(3));
            signal("-CONT", pid);
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut failed_syncs = 0;
    for (outcome, failed) in outcomes {
        expect.merge(outcome);
        failed_syncs += failed;
    }
    eprintln!(
        "seed {seed}: {freezes} freezes, {failed_syncs} syncs failed against the frozen server"
    );
    assert!(
        failed_syncs > 0,
        "seed {seed}: no sync met the frozen server"
    );
    drain_all(seed, &desktops, &url);
    let orders = check_converged(seed, &desktops, &expect, started);
    eprintln!(
        "seed {seed} (frozen server): {} orders, {} notes present, {} changes checked absent",
        orders.len(),
        expect.notes_present.len(),
        expect.notes_absent.len() + expect.orders_absent.len()
    );
}
