//! Shared by the tests that run the binaries (tests/sync_faults.rs, tests/sync_network_faults.rs,
//! tests/outbox_disk_full.rs, tests/kb_publish.rs): the
//! real `seatline-server` and `seatline` binaries of the same build, desktops driven through the
//! CLI, the invariants every run must end in, a private PostgreSQL cluster and a fault proxy.
// Each test uses its own share of these helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fault_proxy;
pub mod pg;

use seatline_work_orders::{Status, WorkOrder};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery";
pub const AGENTS: [&str; 3] = ["ann", "bob", "cho"];

/// xorshift64*: small, seedable, the same everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap()]
    }
}

pub fn bin(name: &str) -> PathBuf {
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
    /// PostgreSQL instead of SQLite in `dir`.
    pub database_url: Option<String>,
    pub child: Option<Child>,
}

impl Server {
    pub fn new(dir: PathBuf, database_url: Option<String>) -> Server {
        Server {
            dir,
            port: free_port(),
            database_url,
            child: None,
        }
    }

    /// The server's data (and database) arguments.
    fn db_args(&self, command: &mut Command) {
        command.arg("--data-dir").arg(&self.dir);
        if let Some(url) = &self.database_url {
            command.arg("--database-url").arg(url);
        }
        command.env_remove("SEATLINE_DATABASE_URL");
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn start(&mut self, failpoint: Option<&str>) {
        let mut command = Command::new(bin("seatline-server"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env_remove("SEATLINE_DATA_DIR")
            .env_remove("SEATLINE_FAILPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.db_args(&mut command);
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
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn run(mut command: Command, stdin: Option<&str>) -> Output {
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
pub struct Desktop {
    pub name: &'static str,
    pub dir: PathBuf,
    pub skew_secs: i64,
}

impl Desktop {
    pub fn cli(&self, args: &[&str], failpoint: Option<&str>) -> Output {
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

    pub fn sync(&self, server: &Server, failpoint: Option<&str>, timeout_secs: u64) -> Output {
        self.sync_via(&server.url(), failpoint, timeout_secs, &[])
    }

    /// `seatline sync` against `url` (the server, or a proxy in front of it) with `extra`
    /// arguments (timeouts).
    pub fn sync_via(
        &self,
        url: &str,
        failpoint: Option<&str>,
        timeout_secs: u64,
        extra: &[&str],
    ) -> Output {
        let mut command = Command::new(bin("seatline"));
        command
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["sync", "--server", url, "--tenant", "acme", "--user"])
            .arg(self.name)
            .args(["--timeout-secs", &timeout_secs.to_string()])
            .args(extra)
            .env("SEATLINE_TEST_CLOCK_SKEW_SECS", self.skew_secs.to_string())
            .env_remove("SEATLINE_FAILPOINT");
        if let Some(point) = failpoint {
            command.env("SEATLINE_FAILPOINT", point);
        }
        run(command, Some(PASSWORD))
    }

    pub fn orders(&self) -> BTreeMap<String, WorkOrder> {
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

pub fn aborted(out: &Output) -> bool {
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("failpoint")
}

/// What the harness knows must (or must not) be in the final state.
#[derive(Default)]
pub struct Expect {
    /// Create markers (category) that must exist exactly once / must not exist.
    pub orders_present: Vec<String>,
    pub orders_absent: Vec<String>,
    /// Note markers likewise.
    pub notes_present: Vec<String>,
    pub notes_absent: Vec<String>,
}

impl Expect {
    pub fn merge(&mut self, other: Expect) {
        self.orders_present.extend(other.orders_present);
        self.orders_absent.extend(other.orders_absent);
        self.notes_present.extend(other.notes_present);
        self.notes_absent.extend(other.notes_absent);
    }
}

/// Bootstraps tenant `acme` (admin `admin`), starts the server, makes team `care` with the
/// agents; returns the team id.
pub fn setup_server(server: &mut Server) -> String {
    let out = run(
        {
            let mut c = Command::new(bin("seatline-server"));
            c.args(["bootstrap", "--tenant", "acme", "--admin", "admin"]);
            server.db_args(&mut c);
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
pub struct Admin {
    base: String,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Admin {
    pub fn new(base: &str) -> Self {
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

    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
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

/// The checks after the network healed and every queue drained: every desktop holds the same
/// orders, nothing acknowledged is lost, nothing applied twice, every status history is legal,
/// only server times (from `started` on) reach the orders, and every problem a desktop shows is
/// a rejection or a conflict. Returns the orders.
pub fn check_converged(
    seed: u64,
    desktops: &[Desktop],
    expect: &Expect,
    started: time::OffsetDateTime,
) -> Vec<WorkOrder> {
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
    for d in desktops {
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
    views[0].values().cloned().collect()
}
