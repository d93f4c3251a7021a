//! Test helpers: a fresh store per test on each backend (SQLite in a temp dir, or a fresh
//! database in a private PostgreSQL cluster), and a real HTTP server on 127.0.0.1:0.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};

use reqwest::StatusCode;
use seatline_server::api::{self, AppState};
use seatline_server::{accounts, Backend, Store};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use tempfile::TempDir;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Runs every listed `async fn name(kind: Kind)` once per backend, as `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Kind::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Kind::Postgres).await
            }
        }
    )*};
}

/// Where the PostgreSQL server binaries are: `$SEATLINE_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_pg_bin(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(dir) => vec![dir],
        None => {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
                .unwrap_or_default();
            dirs.sort_by_key(|d| {
                d.parent()
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or(0)
            });
            dirs.reverse();
            dirs
        }
    };
    candidates
        .iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found in {candidates:?}: the \
                 PostgreSQL tests need them. Install the Debian package `postgresql` \
                 (apt-get install -y postgresql) or set SEATLINE_PG_BIN to their directory."
            )
        })
}

/// A private PostgreSQL cluster in a temp dir on a loopback port; stopped on drop.
pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    /// Run the server binaries as this user (PostgreSQL refuses to run as root).
    run_as: Option<String>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start() -> PgCluster {
        let bin = find_pg_bin(std::env::var_os("SEATLINE_PG_BIN").map(PathBuf::from))
            .unwrap_or_else(|message| panic!("{message}"));
        let dir = tempfile::Builder::new()
            .prefix("seatline-pg-")
            .tempdir()
            .unwrap();
        let run_as = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(
                status.success(),
                "chown of the PostgreSQL temp dir to {user} failed"
            );
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            port: 0,
            run_as,
        };
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data_dir())
            .args([
                "-U",
                "seatline",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-locale",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                cluster.dir.path().display()
            );
            let out = cluster
                .command("pg_ctl")
                .arg("-D")
                .arg(cluster.data_dir())
                .arg("-l")
                .arg(cluster.dir.path().join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output()
                .unwrap();
            if out.status.success() {
                cluster.port = port;
                return cluster;
            }
            last_error = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(cluster.dir.path().join("server.log")).unwrap_or_default()
            );
        }
        panic!("pg_ctl start failed: {last_error}");
    }

    /// URL of database `db` in this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://seatline@127.0.0.1:{}/{db}", self.port)
    }

    /// Create a fresh, empty database and return its URL.
    pub async fn create_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        self.url(&name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The cluster shared by the tests of this binary that are running now: started by the first,
/// stopped when the last one drops its handle.
pub fn pg_cluster() -> Arc<PgCluster> {
    static CLUSTER: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());
    let mut slot = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(cluster) = slot.upgrade() {
        return cluster;
    }
    let cluster = Arc::new(PgCluster::start());
    *slot = Arc::downgrade(&cluster);
    cluster
}

/// A fresh, migrated store; keeps its SQLite dir or PostgreSQL cluster alive.
pub struct TestDb {
    pub store: Store,
    pub kind: Kind,
    /// PostgreSQL URL of this database (None for SQLite).
    pub url: Option<String>,
    _sqlite_dir: Option<TempDir>,
    _cluster: Option<Arc<PgCluster>>,
}

pub async fn fresh_db(kind: Kind) -> TestDb {
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_data_dir(dir.path()).await.unwrap();
            store.migrate().await.unwrap();
            assert_eq!(store.backend(), Backend::Sqlite);
            TestDb {
                store,
                kind,
                url: None,
                _sqlite_dir: Some(dir),
                _cluster: None,
            }
        }
        Kind::Postgres => {
            let cluster = tokio::task::spawn_blocking(pg_cluster).await.unwrap();
            let url = cluster.create_database().await;
            let store = Store::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            assert_eq!(store.backend(), Backend::Postgres);
            TestDb {
                store,
                kind,
                url: Some(url),
                _sqlite_dir: None,
                _cluster: Some(cluster),
            }
        }
    }
}

impl TestDb {
    /// Another store on the same database (a second server instance).
    pub async fn second_store(&self) -> Store {
        let url = self.url.as_deref().expect("second_store needs PostgreSQL");
        let store = Store::connect(url).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        self._sqlite_dir.as_ref().map(TempDir::path)
    }
}

/// A real HTTP server on 127.0.0.1:0; shut down gracefully on drop.
pub struct TestServer {
    pub base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start(store: Store) -> TestServer {
        Self::start_with(AppState::new(store)).await
    }

    pub async fn start_with(state: AppState) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            api::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            base,
            shutdown: Some(tx),
        }
    }

    pub fn client(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: http_client(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A JSON API client.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

/// Status and JSON body (Null when empty).
pub type Reply = (StatusCode, Value);

impl Client {
    async fn send(&self, req: reqwest::RequestBuilder, token: Option<&str>) -> Reply {
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON body {text:?}: {e}"))
        };
        (status, body)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)), token)
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(
            self.http.post(format!("{}{path}", self.base)).json(&body),
            token,
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(
            self.http.patch(format!("{}{path}", self.base)).json(&body),
            token,
        )
        .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(
            self.http.put(format!("{}{path}", self.base)).json(&body),
            token,
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.http.delete(format!("{}{path}", self.base)), token)
            .await
    }

    pub async fn post_csv(&self, path: &str, token: Option<&str>, csv: &str) -> Reply {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "text/csv")
            .body(csv.to_owned());
        self.send(req, token).await
    }

    /// Log in and return the token (asserting success).
    pub async fn login(&self, tenant: &str, username: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/login",
                None,
                json!({"tenant": tenant, "username": username, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {tenant}/{username}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// As `admin_token`, create a user and return its id.
    pub async fn create_user(&self, admin_token: &str, username: &str, role: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/users",
                Some(admin_token),
                json!({"username": username, "password": PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "create user {username}: {body}"
        );
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_customer(&self, token: &str, body: Value) -> Value {
        let (status, body) = self.post("/api/v1/customers", Some(token), body).await;
        assert_eq!(status, StatusCode::CREATED, "create customer: {body}");
        body
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// Two tenants with an admin each, logged in, on a running server.
pub struct World {
    pub db: TestDb,
    pub server: TestServer,
    pub api: Client,
    pub admin_a: String,
    pub admin_b: String,
}

pub async fn world(kind: Kind) -> World {
    let db = fresh_db(kind).await;
    accounts::bootstrap_tenant(&db.store, "alpha", "admin", PASSWORD)
        .await
        .unwrap();
    accounts::bootstrap_tenant(&db.store, "beta", "admin", PASSWORD)
        .await
        .unwrap();
    let server = TestServer::start(db.store.clone()).await;
    let api = server.client();
    let admin_a = api.login("alpha", "admin", PASSWORD).await;
    let admin_b = api.login("beta", "admin", PASSWORD).await;
    World {
        db,
        server,
        api,
        admin_a,
        admin_b,
    }
}

/// A reqwest client. The workspace builds reqwest without a built-in crypto provider (the
/// desktop carries only `ring`), so install ring before the first client is made.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
