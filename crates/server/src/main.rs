//! `seatline-server`: `serve` the API, or `bootstrap` a tenant and its first admin.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use seatline_server::api::{self, AppState, DEFAULT_TOKEN_TTL_SECS};
use seatline_server::{accounts, Store};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "seatline-server", version, about = "Seatline central server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Create a tenant and its first admin; the password is read from the first line of stdin.
    Bootstrap(BootstrapArgs),
    /// Demo data: a tenant with users admin, agent and supervisor (password from the first line
    /// of stdin), a team, customers and work orders. Does nothing if the tenant exists.
    Seed(SeedArgs),
}

#[derive(Args)]
struct SeedArgs {
    /// Tenant name (used at login).
    #[arg(long, default_value = "demo")]
    tenant: String,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
struct DbArgs {
    /// PostgreSQL URL (postgres://…); without it an embedded SQLite file in --data-dir is used.
    #[arg(long, env = "SEATLINE_DATABASE_URL")]
    database_url: Option<String>,
    /// Directory of the embedded SQLite database (seatline.db).
    #[arg(long, env = "SEATLINE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

impl DbArgs {
    async fn open(&self) -> seatline_server::Result<Store> {
        let store = match &self.database_url {
            Some(url) => Store::connect(url).await?,
            None => Store::open_data_dir(&self.data_dir).await?,
        };
        store.migrate().await?;
        Ok(store)
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    db: DbArgs,
    /// PEM certificate chain: serve HTTPS (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = DEFAULT_TOKEN_TTL_SECS)]
    token_ttl_secs: i64,
}

#[derive(Args)]
struct BootstrapArgs {
    /// Tenant name (used at login).
    #[arg(long)]
    tenant: String,
    /// Username of the first admin.
    #[arg(long)]
    admin: String,
    #[command(flatten)]
    db: DbArgs,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("SEATLINE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Bootstrap(args) => bootstrap(args).await,
            Command::Seed(args) => seed(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    if args.token_ttl_secs <= 0 {
        return Err("--token-ttl-secs must be positive".to_owned());
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(api::load_tls(cert, key).map_err(|e| e.to_string())?),
        _ => None,
    };
    let store = args.db.open().await.map_err(|e| e.to_string())?;
    match accounts::purge_expired_tokens(&store).await {
        Ok(n) => tracing::info!(purged = n, "expired tokens purged"),
        Err(e) => tracing::warn!(error = %e, "could not purge expired tokens"),
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, backend = ?store.backend(), tls = tls.is_some(), "listening");
    let state = AppState {
        token_ttl_secs: args.token_ttl_secs,
        ..AppState::new(store.clone())
    };
    // On shutdown, end waiting long polls at once so in-flight requests finish quickly.
    let hub = state.hub.clone();
    let shutdown = async move {
        shutdown_signal().await;
        hub.close();
    };
    let served = match tls {
        Some(tls) => {
            let listener = listener.into_std().map_err(|e| e.to_string())?;
            api::serve_tls(listener, state, tls, shutdown).await
        }
        None => api::serve(listener, state, shutdown).await,
    };
    served.map_err(|e| e.to_string())?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn bootstrap(args: BootstrapArgs) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']);
    let store = args.db.open().await.map_err(|e| e.to_string())?;
    let (tenant, admin) = accounts::bootstrap_tenant(&store, &args.tenant, &args.admin, password)
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    println!(
        "created tenant {} ({}) with admin {} ({})",
        tenant.name, tenant.id, admin.username, admin.id
    );
    Ok(())
}

async fn seed(args: SeedArgs) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']);
    let store = args.db.open().await.map_err(|e| e.to_string())?;
    let state = AppState::new(store.clone());
    let report = seatline_server::seed::seed_demo(&state, &args.tenant, password)
        .await
        .map_err(|e| e.to_string());
    store.close().await;
    let report = report?;
    println!(
        "{}",
        serde_json::to_string(&report).map_err(|e| e.to_string())?
    );
    Ok(())
}
