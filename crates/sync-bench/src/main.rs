//! `seatline-sync-bench`: how fast work orders created offline reach the server through the
//! outbox. `scripts/bench.sh sync` runs it in release against the release `seatline-server`.
//!
//! It starts the server binary (SQLite in a temp dir, or `--database-url`), makes a tenant, a
//! team and an agent, and creates N orders offline in two local stores. Then, batch by batch
//! and alternating which goes first:
//! - **outbox**: what the desktop's sync does per push: read the oldest pending mutations from
//!   the local SQLite outbox, POST them to `/api/v1/sync/push`, record the server's answer;
//! - **direct** (the peer): the other store's mutations, serialised beforehand, POSTed straight
//!   to the same endpoint with no local database.
//!
//! Both hit the same server, tenant and team, with the same batch size, so the ratio is the
//! outbox's own cost on top of the server's. No timing is asserted; figures are printed.

use clap::Parser;
use seatline_outbox::LocalStore;
use seatline_sync_client::{ServerClient, PUSH_BATCH};
use seatline_sync_protocol::{PushAck, PushRequest};
use seatline_work_orders::{Actor, Complexity, NewWorkOrder, OrderKind, Priority};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const PASSWORD: &str = "bench password 1";

#[derive(Parser)]
#[command(about = "Work orders pushed through the outbox to a real server, against direct POSTs")]
struct Args {
    /// Orders created offline on each side.
    #[arg(long, default_value_t = 10_000)]
    orders: usize,
    /// Mutations per push (the sync client's batch by default).
    #[arg(long, default_value_t = PUSH_BATCH)]
    batch: u32,
    /// The `seatline-server` binary to run.
    #[arg(long)]
    server_bin: PathBuf,
    /// Run the server on this PostgreSQL database instead of SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("server: {0}")]
    Server(String),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Store(#[from] seatline_outbox::StoreError),
    #[error(transparent)]
    Sync(#[from] seatline_sync_client::SyncError),
    #[error(transparent)]
    Request(#[from] seatline_sync_client::RequestError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The server process; killed on drop.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server's database arguments (bootstrap and serve take the same).
fn db_args(command: &mut Command, args: &Args, dir: &Path) {
    command.env_remove("SEATLINE_DATABASE_URL");
    command.arg("--data-dir").arg(dir);
    if let Some(url) = &args.database_url {
        command.arg("--database-url").arg(url);
    }
}

async fn start_server(args: &Args, dir: &Path) -> Result<(ServerProcess, String), BenchError> {
    let mut bootstrap = Command::new(&args.server_bin);
    bootstrap
        .args(["bootstrap", "--tenant", "bench", "--admin", "admin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    db_args(&mut bootstrap, args, dir);
    let mut child = bootstrap.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(format!("{PASSWORD}\n").as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(BenchError::Server(format!(
            "bootstrap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut serve = Command::new(&args.server_bin);
    serve
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SEATLINE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    db_args(&mut serve, args, dir);
    let process = ServerProcess(serve.spawn()?);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(BenchError::Server("did not start within 30 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((process, format!("http://127.0.0.1:{port}")))
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Result<Value, BenchError> {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let value: Value = response.json().await?;
    if !status.is_success() {
        return Err(BenchError::Server(format!("{status}: {value}")));
    }
    Ok(value)
}

fn text(value: &Value, field: &str) -> Result<String, BenchError> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Server(format!("no {field} in {value}")))
}

fn new_order(team: &str, i: usize) -> NewWorkOrder {
    NewWorkOrder {
        team: team.to_owned(),
        kind: OrderKind::Complaint {
            complexity: Complexity::Ordinary,
        },
        customer_id: format!("cust-{}", i % 1000),
        call_id: None,
        category: "billing".to_owned(),
        priority: Priority::Normal,
        assignee: None,
        title: format!("Order {i}: invoice charged twice"),
        description: "The customer was charged twice for the November invoice and asks for a \
                      refund to the original card."
            .to_owned(),
        contact_phone: Some("+8613800138000".to_owned()),
        due_at: None,
    }
}

/// p-th percentile (nearest rank) in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1].as_secs_f64() * 1000.0
}

struct Side {
    pushes: Vec<Duration>,
    orders: usize,
}

impl Side {
    fn report(&self) -> Value {
        let mut sorted = self.pushes.clone();
        sorted.sort();
        let total: Duration = self.pushes.iter().sum();
        json!({
            "orders": self.orders,
            "pushes": self.pushes.len(),
            "seconds": total.as_secs_f64(),
            "orders_per_s": self.orders as f64 / total.as_secs_f64().max(1e-9),
            "push_p50_ms": percentile(&sorted, 50.0),
            "push_p95_ms": percentile(&sorted, 95.0),
        })
    }
}

async fn run(args: &Args) -> Result<Value, BenchError> {
    let temp = tempfile::tempdir()?;
    let (_server, base) = start_server(args, &temp.path().join("server")).await?;
    // The sync client installs the rustls provider reqwest is built without; before any Client.
    let mut client = ServerClient::new(&base)?;
    let http = reqwest::Client::builder().build()?;
    let admin = post(
        &http,
        format!("{base}/api/v1/login"),
        None,
        json!({"tenant": "bench", "username": "admin", "password": PASSWORD}),
    )
    .await?;
    let admin_token = text(&admin, "token")?;
    let team = post(
        &http,
        format!("{base}/api/v1/teams"),
        Some(&admin_token),
        json!({"name": "care"}),
    )
    .await?;
    let team = text(&team, "id")?;
    post(
        &http,
        format!("{base}/api/v1/users"),
        Some(&admin_token),
        json!({"username": "agent", "password": PASSWORD, "role": "agent", "team_ids": [team]}),
    )
    .await?;

    // The agent's login, as the desktop makes it.
    let session = client.login("bench", "agent", PASSWORD).await?;
    let actor = Actor {
        user: text(&session.user, "id")?,
        tenant: text(&session.user, "tenant_id")?,
    };
    let now = OffsetDateTime::now_utc();
    let outbox = LocalStore::open(&temp.path().join("outbox.db"), actor.clone(), now).await?;
    let source = LocalStore::open(&temp.path().join("direct.db"), actor, now).await?;

    // Offline: N orders into each store (the outbox side timed: the agent's own wait).
    let started = Instant::now();
    for i in 0..args.orders {
        outbox
            .create_order(new_order(&team, i), OffsetDateTime::now_utc())
            .await?;
    }
    let create_s = started.elapsed().as_secs_f64();
    for i in 0..args.orders {
        source
            .create_order(new_order(&team, i), OffsetDateTime::now_utc())
            .await?;
    }
    let all = source
        .pending(u32::try_from(args.orders).unwrap_or(u32::MAX))
        .await?;
    let batch = usize::try_from(args.batch.max(1)).unwrap_or(1);
    // (body, mutations in it, the last one's id)
    let direct_bodies: Vec<(Vec<u8>, usize, u64)> = all
        .chunks(batch)
        .map(|chunk| {
            let body = serde_json::to_vec(&PushRequest {
                client_id: source.client_id(),
                mutations: chunk.to_vec(),
            })?;
            let last = chunk.last().map_or(0, |m| m.mutation_id);
            Ok::<_, serde_json::Error>((body, chunk.len(), last))
        })
        .collect::<Result<_, _>>()?;
    drop(all);
    let token = session.token.clone();
    let push_url = format!("{base}/api/v1/sync/push");

    let mut via_outbox = Side {
        pushes: Vec::new(),
        orders: 0,
    };
    let mut direct = Side {
        pushes: Vec::new(),
        orders: 0,
    };
    for (i, (body, n, last)) in direct_bodies.into_iter().enumerate() {
        for outbox_turn in [i % 2 == 0, i % 2 != 0] {
            if outbox_turn {
                let t = Instant::now();
                let mutations = outbox.pending(args.batch).await?;
                let n = mutations.len();
                let ack = client
                    .push(&PushRequest {
                        client_id: outbox.client_id(),
                        mutations,
                    })
                    .await?;
                outbox.acknowledge(&ack, OffsetDateTime::now_utc()).await?;
                via_outbox.pushes.push(t.elapsed());
                via_outbox.orders += n;
            } else {
                let payload = body.clone();
                let t = Instant::now();
                let response = http
                    .post(&push_url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(payload)
                    .send()
                    .await?;
                let status = response.status();
                let bytes = response.bytes().await?;
                if !status.is_success() {
                    return Err(BenchError::Server(format!(
                        "direct push: {status}: {}",
                        String::from_utf8_lossy(&bytes)
                    )));
                }
                let ack: PushAck = serde_json::from_slice(&bytes)?;
                direct.pushes.push(t.elapsed());
                if ack.last_mutation_id != last || !ack.rejected.is_empty() {
                    return Err(BenchError::Server(format!(
                        "direct push not applied whole: {ack:?}"
                    )));
                }
                direct.orders += n;
            }
        }
    }
    let left = outbox.counts().await?.pending;
    if left > 0 || via_outbox.orders != args.orders || direct.orders != args.orders {
        return Err(BenchError::Server(format!(
            "not everything arrived: outbox {} ({left} left), direct {} of {}",
            via_outbox.orders, direct.orders, args.orders
        )));
    }
    outbox.close().await;
    source.close().await;
    let (o, d) = (via_outbox.report(), direct.report());
    let ratio =
        o["orders_per_s"].as_f64().unwrap_or(0.0) / d["orders_per_s"].as_f64().unwrap_or(1.0);
    Ok(json!({
        "backend": if args.database_url.is_some() { "postgres" } else { "sqlite" },
        "orders": args.orders,
        "batch": args.batch,
        "create_offline_orders_per_s": args.orders as f64 / create_s.max(1e-9),
        "outbox": o,
        "direct": d,
        "outbox_vs_direct_throughput": ratio,
    }))
}

fn render(r: &Value) -> String {
    let side = |name: &str, s: &Value| {
        format!(
            "  {name:<8} {:>9.0} orders/s   push p50 {:>7.1} ms   p95 {:>7.1} ms   ({} pushes, {:.2} s)\n",
            s["orders_per_s"].as_f64().unwrap_or(0.0),
            s["push_p50_ms"].as_f64().unwrap_or(0.0),
            s["push_p95_ms"].as_f64().unwrap_or(0.0),
            s["pushes"],
            s["seconds"].as_f64().unwrap_or(0.0),
        )
    };
    format!(
        "sync: {} orders created offline, pushed in batches of {} to seatline-server ({})\n\
         \x20 offline create {:.0} orders/s (one local transaction each)\n{}{}\
         \x20 outbox / direct throughput: {:.2}\n",
        r["orders"],
        r["batch"],
        r["backend"].as_str().unwrap_or("?"),
        r["create_offline_orders_per_s"].as_f64().unwrap_or(0.0),
        side("outbox", &r["outbox"]),
        side("direct", &r["direct"]),
        r["outbox_vs_direct_throughput"].as_f64().unwrap_or(0.0),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(report) => {
            if args.json {
                println!("{report}");
            } else {
                print!("{}", render(&report));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seatline-sync-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
