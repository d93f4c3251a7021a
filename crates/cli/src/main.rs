//! `seatline`: the headless command line. Every subcommand is a thin call into the library
//! crates; later work adds `phone`, `kb`, `sync` and `server` subcommands here.

mod orders;
mod phone;

use clap::{Parser, Subcommand};
use seatline_kb_search::{KbIndex, Lang, SearchFilter};
use seatline_secrets::{KeychainStore, Secret, SecretName};
use seatline_settings::{resolve_data_dir, DATA_DIR_ENV};
use seatline_workspace::{host, Workspace};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "seatline",
    version,
    about = "Seatline agent desktop: headless command line"
)]
struct Cli {
    /// Where settings and local data live (default: the OS data directory).
    #[arg(long, global = true, env = DATA_DIR_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the version, the data directory and the UI language, as JSON.
    Info,
    /// Read or change settings.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Store, check or delete a secret in the OS keychain.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// The offline knowledge base: import articles, search them.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Work orders on this desktop (they work offline; `seatline sync` sends them).
    #[command(subcommand)]
    Orders(orders::OrdersCommand),
    /// Log in to the central server (password on standard input) and sync work orders until
    /// both sides are drained. Exits 0 when drained, 3 when the timeout passed first.
    Sync {
        #[arg(long)]
        server: String,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        /// The whole sync (login included) ends by then, requests in flight too.
        #[arg(long, default_value_t = 10)]
        timeout_secs: u64,
        /// Opening a connection to the server.
        #[arg(long, default_value_t = 5_000)]
        connect_timeout_ms: u64,
        /// Silence on a connection waiting for an answer (a stalled network).
        #[arg(long, default_value_t = 15_000)]
        read_timeout_ms: u64,
        /// One request and its whole answer (a very slow network).
        #[arg(long, default_value_t = 30_000)]
        request_timeout_ms: u64,
    },
    /// The softphone without a window: registers, calls, answers; prints call events as JSON
    /// lines and reads commands (dial, answer, hold, dtmf, transfer, ...) from standard input.
    Phone(Box<phone::PhoneArgs>),
}

#[derive(Subcommand, Debug)]
enum KbCommand {
    /// Replace the local knowledge base with the articles of DIR: Markdown (`# Title`, blank
    /// line, body; optional front matter), HTML exports and JSON. Bad files are reported and
    /// skipped. A `synonyms.txt` in DIR replaces the editors' synonym rules.
    Import { dir: PathBuf },
    /// Publish the articles of DIR (Markdown, HTML exports, JSON) to the center's knowledge base,
    /// which every desktop pulls and searches offline (supervisor or admin; password on
    /// standard input). Prints what the server stored, left unchanged, deleted and rejected.
    Publish {
        dir: PathBuf,
        #[arg(long)]
        server: String,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        /// Also delete the server's articles that DIR no longer has.
        #[arg(long)]
        replace: bool,
    },
    /// Search the local knowledge base; results in rank order.
    Search {
        query: String,
        /// Print a JSON array of {id, title, score, snippet, duplicate_of?}.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Only articles with this tag (repeat for any of several).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Only articles in this language (zh-CN, zh-TW, en).
        #[arg(long)]
        lang: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum SettingsCommand {
    /// Print one setting (language, server_url).
    Get { key: String },
    /// Change one setting and save it.
    Set { key: String, value: String },
}

#[derive(Subcommand, Debug)]
enum SecretCommand {
    /// Store a secret read from standard input (never from the command line, where `ps` sees it).
    Set { name: String },
    /// Say whether a secret is stored, without printing it.
    Check { name: String },
    /// Delete a secret.
    Delete { name: String },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Workspace(#[from] seatline_workspace::WorkspaceError),
    #[error(transparent)]
    Settings(#[from] seatline_settings::SettingsError),
    #[error(transparent)]
    Secrets(#[from] seatline_secrets::SecretsError),
    #[error("cannot read the secret from standard input: {0}")]
    Stdin(std::io::Error),
    #[error("the secret on standard input is empty")]
    EmptySecret,
    #[error(transparent)]
    Kb(#[from] seatline_kb_search::Error),
    #[error(transparent)]
    KbSync(#[from] seatline_workspace::kb_sync::KbSyncError),
    #[error("cannot log in to the server: {0}")]
    Login(String),
    #[error("no async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0} is not a folder")]
    NotADirectory(PathBuf),
    #[error("unknown language `{0}` (use zh-CN, zh-TW or en)")]
    UnknownLanguage(String),
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Orders(#[from] orders::OrdersError),
    #[error(transparent)]
    Phone(#[from] phone::PhoneCliError),
    #[error("sync did not finish in time; changes stay queued")]
    NotDrained,
}

fn main() -> ExitCode {
    host::init_logging("warn");
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::NotDrained) => {
            eprintln!("seatline: {}", CliError::NotDrained);
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("seatline: {e}");
            ExitCode::FAILURE
        }
    }
}

fn kb(index: &KbIndex, command: KbCommand) -> Result<(), CliError> {
    match command {
        KbCommand::Import { dir } => {
            if !dir.is_dir() {
                return Err(CliError::NotADirectory(dir));
            }
            let report = index.import_dir(&dir)?;
            for skipped in &report.skipped {
                eprintln!("seatline: skipped {}: {}", skipped.file, skipped.reason);
            }
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        KbCommand::Publish {
            dir,
            server,
            tenant,
            user,
            replace,
        } => {
            if !dir.is_dir() {
                return Err(CliError::NotADirectory(dir));
            }
            let (articles, read) = seatline_kb_search::read_article_dir(&dir)?;
            for skipped in &read.skipped {
                eprintln!("seatline: skipped {}: {}", skipped.file, skipped.reason);
            }
            let report = publish_kb(&server, &tenant, &user, &articles, replace)?;
            for rejected in &report.rejected {
                eprintln!(
                    "seatline: the server refused {}: {}",
                    rejected.id, rejected.reason
                );
            }
            println!(
                "{}",
                serde_json::json!({
                    "stored": report.stored, "unchanged": report.unchanged,
                    "deleted": report.deleted, "rejected": report.rejected,
                    "skipped": read.skipped, "revision": report.revision,
                })
            );
        }
        KbCommand::Search {
            query,
            json,
            limit,
            tags,
            lang,
        } => {
            let lang = match lang {
                Some(tag) => Some(Lang::parse(&tag).ok_or(CliError::UnknownLanguage(tag))?),
                None => None,
            };
            let hits = index.search_filtered(&query, limit, &SearchFilter { tags, lang })?;
            if json {
                println!("{}", serde_json::to_string(&hits)?);
            } else {
                for hit in hits {
                    println!("{:>8.3}  {}  {}", hit.score, hit.id, hit.title);
                }
            }
        }
    }
    Ok(())
}

fn run(cli: Cli) -> Result<(), CliError> {
    let keychain = Arc::new(KeychainStore::new(host::keychain_service()));
    // The phone needs only the keychain: it does not open the workspace's stores.
    if let Command::Phone(args) = cli.command {
        return Ok(phone::run(*args, keychain.as_ref())?);
    }
    let data_dir = resolve_data_dir(cli.data_dir.as_deref(), None)?;
    let mut workspace = Workspace::open(
        data_dir,
        sys_locale::get_locale(),
        keychain,
        host::wall_clock_millis(),
    )?;
    match cli.command {
        Command::Info => {
            let info = workspace.info();
            for notice in &info.notices {
                eprintln!("seatline: notice: {}", serde_json::to_string(notice)?);
            }
            println!("{}", serde_json::to_string_pretty(&info)?);
        }
        Command::Settings(SettingsCommand::Get { key }) => {
            println!("{}", workspace.settings().get_by_name(&key)?);
        }
        Command::Settings(SettingsCommand::Set { key, value }) => {
            workspace.set_setting(&key, &value)?;
        }
        Command::Secret(SecretCommand::Set { name }) => {
            let name = SecretName::new(&name)?;
            let mut value = String::new();
            std::io::stdin()
                .read_to_string(&mut value)
                .map_err(CliError::Stdin)?;
            let value = value.trim_end_matches(['\r', '\n']);
            if value.is_empty() {
                return Err(CliError::EmptySecret);
            }
            workspace.secrets().set(&name, &Secret::new(value))?;
        }
        Command::Secret(SecretCommand::Check { name }) => {
            let name = SecretName::new(&name)?;
            let present = workspace.secrets().get(&name)?.is_some();
            println!("{}", if present { "stored" } else { "absent" });
        }
        Command::Secret(SecretCommand::Delete { name }) => {
            workspace.secrets().delete(&SecretName::new(&name)?)?;
        }
        Command::Kb(command) => kb(&*workspace.kb()?, command)?,
        Command::Orders(command) => orders::orders(&workspace.info().data_dir, command)?,
        Command::Phone(_) => {}
        Command::Sync {
            server,
            tenant,
            user,
            timeout_secs,
            connect_timeout_ms,
            read_timeout_ms,
            request_timeout_ms,
        } => {
            let dir = workspace.info().data_dir;
            let timeout = std::time::Duration::from_secs(timeout_secs);
            let ms = std::time::Duration::from_millis;
            let timeouts = seatline_sync_client::Timeouts {
                connect: ms(connect_timeout_ms),
                read: ms(read_timeout_ms),
                request: ms(request_timeout_ms),
            };
            if !orders::sync(&dir, &server, &tenant, &user, timeout, timeouts)? {
                return Err(CliError::NotDrained);
            }
        }
    }
    Ok(())
}

/// Logs in (password on standard input) and publishes `articles`; with `replace`, the server's
/// articles missing from them are deleted.
fn publish_kb(
    server: &str,
    tenant: &str,
    user: &str,
    articles: &[seatline_kb_search::Article],
    replace: bool,
) -> Result<seatline_workspace::kb_sync::PublishReport, CliError> {
    use seatline_workspace::kb_sync;
    let mut password = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut password).map_err(CliError::Stdin)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let mut client = seatline_sync_client::ServerClient::new(server)
            .map_err(|e| CliError::Login(e.to_string()))?;
        let session = client
            .login(tenant, user, password)
            .await
            .map_err(|e| CliError::Login(e.to_string()))?;
        let http = kb_sync::http_client()?;
        let delete = if replace {
            let keep: std::collections::BTreeSet<&str> =
                articles.iter().map(|a| a.id.as_str()).collect();
            kb_sync::server_ids(&http, server, &session.token)
                .await?
                .into_iter()
                .filter(|id| !keep.contains(id.as_str()))
                .collect()
        } else {
            Vec::new()
        };
        Ok(kb_sync::publish(&http, server, &session.token, articles, &delete).await?)
    })
}
