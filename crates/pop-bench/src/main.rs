//! `seatline-pop-bench`: see the library docs; `scripts/bench.sh pop` runs it in release.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Screen-pop lookup with many customers in the local cache, against a naive scan")]
struct Args {
    /// Customers in the cache.
    #[arg(long, default_value_t = 1_000_000)]
    customers: usize,
    /// Ringing calls to look up.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Calls for the (slow) peer.
    #[arg(long, default_value_t = 50)]
    peer_calls: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the cache here (reused by the next run of the same size and seed).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Only fill the cache (in --dir) and print, as JSON, its path and this many callers in the
    /// PBX's forms with the customer each must pop: the input of `scripts/bench.sh pop-e2e`.
    #[arg(long, value_name = "N")]
    e2e_callers: Option<usize>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let temp;
    let dir = match &args.dir {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("seatline-pop-bench: cannot create {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            dir.clone()
        }
        None => match tempfile::tempdir() {
            Ok(t) => {
                temp = t;
                temp.path().to_path_buf()
            }
            Err(e) => {
                eprintln!("seatline-pop-bench: no temporary directory: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if let Some(n) = args.e2e_callers {
        return match seatline_pop_bench::fill(&dir, args.customers, args.seed).await {
            Ok((cache, rows, fill_s)) => {
                cache.close().await;
                let plan = serde_json::json!({
                    "cache": seatline_pop_bench::cache_path(&dir, args.customers, args.seed),
                    "customers": rows.len(),
                    "fill_s": fill_s,
                    "callers": seatline_pop_bench::pbx_callers(&rows, n, args.seed),
                });
                println!("{plan}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("seatline-pop-bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match seatline_pop_bench::run(&dir, args.customers, args.calls, args.peer_calls, args.seed)
        .await
    {
        Ok(report) if args.json => match serde_json::to_string_pretty(&report) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("seatline-pop-bench: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(report) => {
            print!("{}", seatline_pop_bench::render_table(&report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seatline-pop-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
