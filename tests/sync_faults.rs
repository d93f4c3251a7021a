//! Fault injection with real processes: the `seatline-server` binary (SQLite), three desktops
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

use seatline_work_orders::{Status, WorkOrder};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";
const AGENTS: [&str; 3] = ["ann", "bob", "cho"];

/// xorshift64*: small, seedable, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap()]
    }
}

fn bin(name: &str) -> PathBuf {
    // target/debug/deps/sync_faults-… → target/debug/<name>
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p seatline-cli -p seatline-server`",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Server {
    fn start(&mut self, failpoint: Option<&str>) {
        let mut command = Command::new(bin("seatline-server"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(&self.dir)
            .env_remove("SEATLINE_DATA_DIR")
            .env_remove("SEATLINE_FAILPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(point) = failpoint {
            command.env("SEATLINE_FAILPOINT", point);
        }
        self.child = Some(command.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// kill -9 (or reap it if a failpoint already ended it).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn run(mut command: Command, stdin: Option<&str>) -> Output {
    command
        .env_remove("SEATLINE_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// One desktop: the CLI on its own data directory, its clock `skew_secs` off.
struct Desktop {
    name: &'static str,
    dir: PathBuf,
    skew_secs: i64,
}

impl Desktop {
    fn cli(&self, args: &[&str], failpoint: Option<&str>) -> Output {
        let mut command = Command::new(bin("seatline"));
        command.arg("--data-dir").arg(&self.dir).args(args);
        command
            .env_remove("SEATLINE_FAILPOINT")
            .env("SEATLINE_TEST_CLOCK_SKEW_SECS", self.skew_secs.to_string());
        if let Some(point) = failpoint {
            command.env("SEATLINE_FAILPOINT", point);
        }
        run(command, None)
    }

    fn sync(&self, server: &Server, failpoint: Option<&str>, timeout_secs: u64) -> Output {
        let mut command = Command::new(bin("seatline"));
        command
            .arg("--data-dir")
            .arg(&self.dir)
            .args([
                "sync",
                "--server",
                &server.url(),
                "--tenant",
                "acme",
                "--user",
            ])
            .arg(self.name)
            .args(["--timeout-secs", &timeout_secs.to_string()])
            .env("SEATLINE_TEST_CLOCK_SKEW_SECS", self.skew_secs.to_string())
            .env_remove("SEATLINE_FAILPOINT");
        if let Some(point) = failpoint {
            command.env("SEATLINE_FAILPOINT", point);
        }
        run(command, Some(PASSWORD))
    }

    fn orders(&self) -> BTreeMap<String, WorkOrder> {
        let out = self.cli(&["orders", "list"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let orders: Vec<WorkOrder> = serde_json::from_slice(&out.stdout).unwrap();
        orders.into_iter().map(|o| (o.id.to_string(), o)).collect()
    }
}

fn aborted(out: &Output) -> bool {
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("failpoint")
}

/// What the harness knows must (or must not) be in the final state.
#[derive(Default)]
struct Expect {
    /// Create markers (category) that must exist exactly once / must not exist.
    orders_present: Vec<String>,
    orders_absent: Vec<String>,
    /// Note markers likewise.
    notes_present: Vec<String>,
    notes_absent: Vec<String>,
}

fn setup_server(server: &mut Server) -> String {
    let out = run(
        {
            let mut c = Command::new(bin("seatline-server"));
            c.args([
                "bootstrap",
                "--tenant",
                "acme",
                "--admin",
                "admin",
                "--data-dir",
            ])
            .arg(&server.dir);
            c
        },
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.start(None);
    let http = Admin::new(&server.url());
    let token = http.post(
        "/api/v1/login",
        None,
        json!({"tenant": "acme", "username": "admin", "password": PASSWORD}),
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let team = http.post("/api/v1/teams", Some(&token), json!({"name": "care"}))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for name in AGENTS {
        http.post(
            "/api/v1/users",
            Some(&token),
            json!({"username": name, "password": PASSWORD, "role": "agent", "team_ids": [team]}),
        );
    }
    team
}

/// A small blocking JSON client for the set-up calls (the desktops use the CLI).
struct Admin {
    base: String,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Admin {
    fn new(base: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base: base.to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::new(),
        }
    }

    fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        self.runtime.block_on(async {
            let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let value: Value = response.json().await.unwrap();
            assert!(status.is_success(), "{path}: {status} {value}");
            value
        })
    }
}

fn run_trials(seed: u64, trials: u64) {
    let root = tempfile::tempdir().unwrap();
    let mut server = Server {
        dir: root.path().join("server"),
        port: free_port(),
        child: None,
    };
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

    // Convergence: every desktop holds the same orders.
    let views: Vec<BTreeMap<String, WorkOrder>> = desktops.iter().map(Desktop::orders).collect();
    for (d, view) in desktops.iter().zip(&views).skip(1) {
        assert_eq!(
            view.keys().collect::<Vec<_>>(),
            views[0].keys().collect::<Vec<_>>(),
            "seed {seed}: {} holds other orders than {}",
            d.name,
            desktops[0].name
        );
        for (id, order) in view {
            assert_eq!(
                order, &views[0][id],
                "seed {seed}: {} differs on {id}",
                d.name
            );
        }
    }
    let orders: Vec<&WorkOrder> = views[0].values().collect();

    // Nothing lost, nothing twice.
    let count_orders = |marker: &str| orders.iter().filter(|o| o.category == marker).count();
    for marker in &expect.orders_present {
        assert_eq!(
            count_orders(marker),
            1,
            "seed {seed}: order {marker} lost or duplicated"
        );
    }
    for marker in &expect.orders_absent {
        assert_eq!(
            count_orders(marker),
            0,
            "seed {seed}: order {marker} appeared after a crash before commit"
        );
    }
    let count_notes = |marker: &str| {
        orders
            .iter()
            .flat_map(|o| &o.notes)
            .filter(|n| n.text == marker)
            .count()
    };
    for marker in &expect.notes_present {
        assert_eq!(
            count_notes(marker),
            1,
            "seed {seed}: note {marker} lost or duplicated"
        );
    }
    for marker in &expect.notes_absent {
        assert_eq!(
            count_notes(marker),
            0,
            "seed {seed}: note {marker} should not exist"
        );
    }

    // Every status history is a legal chain.
    for order in &orders {
        let mut current = Status::New;
        for step in &order.status_history {
            assert_eq!(
                step.from, current,
                "seed {seed}: broken history on {}",
                order.id
            );
            assert!(
                Status::is_legal_step(step.from, step.to, step.reopen),
                "seed {seed}: illegal step {:?} → {:?} on {}",
                step.from,
                step.to,
                order.id
            );
            current = step.to;
        }
        assert_eq!(
            current, order.status,
            "seed {seed}: status differs from history"
        );
    }

    // Server times only: the skewed desktop clocks never reach the order's times (the SLA
    // clocks run on these).
    let finished = time::OffsetDateTime::now_utc();
    let window = (started - time::Duration::minutes(1))..=(finished + time::Duration::minutes(1));
    for order in &orders {
        for at in [order.created_at, order.updated_at]
            .into_iter()
            .chain(order.notes.iter().map(|n| n.at))
            .chain(order.status_history.iter().map(|h| h.at))
        {
            assert!(
                window.contains(&at),
                "seed {seed}: client time {at} leaked into {}",
                order.id
            );
        }
    }

    // Every desktop can show its problems (rejections, conflicts).
    for d in &desktops {
        let out = d.cli(&["orders", "problems"], None);
        assert!(out.status.success());
        let problems: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        for p in &problems {
            assert!(matches!(
                p["detail"]["kind"].as_str(),
                Some("rejected" | "conflict")
            ));
        }
    }
    eprintln!(
        "seed {seed}: {trials} trials, {} orders, {} notes checked present, {} absent",
        orders.len(),
        expect.notes_present.len(),
        expect.notes_absent.len() + expect.orders_absent.len()
    );
}

#[test]
fn no_change_is_lost_or_doubled_across_crashes_and_server_kills() {
    let seed = std::env::var("SEATLINE_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_122);
    let trials = std::env::var("SEATLINE_FAULT_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    eprintln!("sync fault test: seed {seed}, {trials} trials (SEATLINE_FAULT_SEED to replay)");
    run_trials(seed, trials);
}
