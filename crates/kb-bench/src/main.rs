//! `seatline-kb-bench`: the knowledge-base benchmark (issue #5). Prints a table, or JSON with
//! `--json`; exits 0 whether or not the latency target is met (the table says PASS or MISS).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use seatline_kb_bench::{render_table, run, Config};

/// Knowledge-base benchmark: Seatline's search against SQLite FTS5 (same articles, same
/// queries, same run).
#[derive(Parser)]
#[command(name = "seatline-kb-bench", version)]
struct Args {
    /// Articles to generate.
    #[arg(long, default_value_t = 100_000)]
    articles: usize,
    /// Measured queries (warm-up excluded).
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Warm-up queries per engine, not measured.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Seed of the article and query generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory for the indexes (new or empty; kept afterwards). Default: a temporary
    /// directory, removed at the end.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// No progress messages on standard error.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = Config {
        articles: args.articles,
        queries: args.queries,
        warmup: args.warmup,
        seed: args.seed,
        dir: args.dir,
        progress: !args.quiet,
    };
    let report = match run(&config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("seatline-kb-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("seatline-kb-bench: cannot write JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", render_table(&report));
    }
    ExitCode::SUCCESS
}
