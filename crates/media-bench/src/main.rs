//! `scripts/bench.sh media`: see the crate docs and the README's "Figures so far".

use clap::Parser;
use seatline_media_bench::{
    condition, conditions, render_table, verdicts, Bench, BenchCodec, Peer, Row,
};
use seatline_sip_peers::{DigestAlgorithm, Kamailio, KamailioConfig};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    about = "Voice quality through a seeded impairment relay: Seatline↔Seatline and baresip↔baresip in the same run"
)]
struct Args {
    /// The `seatline` binary (default: next to this one).
    #[arg(long)]
    seatline_bin: Option<PathBuf>,
    /// Conditions, comma separated (default: all: clean, loss5, loss10, loss20, burst10,
    /// jitter, jitter-loss10).
    #[arg(long, value_delimiter = ',')]
    conditions: Vec<String>,
    /// Codecs, comma separated: pcmu, opus, opus-fec (default: all).
    #[arg(long, value_delimiter = ',')]
    codecs: Vec<String>,
    /// Only Seatline (no baresip), or only baresip.
    #[arg(long)]
    only: Option<String>,
    /// The relay's dice; both peers of a row get the same.
    #[arg(long, default_value_t = 20261202)]
    seed: u64,
    /// Print the rows as JSON after the table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("media bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), seatline_media_bench::BenchError> {
    let conds = if args.conditions.is_empty() {
        conditions()
    } else {
        args.conditions
            .iter()
            .map(|c| condition(c))
            .collect::<Result<_, _>>()?
    };
    let codecs = if args.codecs.is_empty() {
        BenchCodec::ALL.to_vec()
    } else {
        args.codecs
            .iter()
            .map(|c| BenchCodec::parse(c))
            .collect::<Result<_, _>>()?
    };
    let peers: Vec<Peer> = match args.only.as_deref() {
        None => vec![Peer::Seatline, Peer::Baresip],
        Some("seatline") => vec![Peer::Seatline],
        Some("baresip") => vec![Peer::Baresip],
        Some(other) => {
            return Err(seatline_media_bench::BenchError::Call(format!(
                "--only wants seatline or baresip, not {other:?}"
            )))
        }
    };
    let bin = match args.seatline_bin {
        Some(b) => b,
        None => std::env::current_exe()
            .map_err(|e| seatline_media_bench::BenchError::Call(format!("own path: {e}")))?
            .with_file_name("seatline"),
    };
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5))?;
    let bench = Bench::new(proxy, bin)?;
    let mut rows = Vec::new();
    for (i, cond) in conds.iter().enumerate() {
        for &codec in &codecs {
            let seed = args.seed.wrapping_add(i as u64);
            let mut row = Row {
                condition: cond.name.into(),
                codec,
                seatline: None,
                baresip: None,
            };
            for &peer in &peers {
                let result = bench.call(peer, codec, cond, seed)?;
                eprintln!(
                    "{:<14} {:<8} {:<8} PESQ-NB {:.2} WB {} delay {} ms CPU {} loss {:.1} %",
                    cond.name,
                    codec.name(),
                    peer.name(),
                    result.pesq_nb(),
                    result
                        .pesq_wb()
                        .map(|w| format!("{w:.2}"))
                        .unwrap_or_else(|| "-".into()),
                    result
                        .delay_ms()
                        .map(|d| format!("{d:.0}"))
                        .unwrap_or_else(|| "-".into()),
                    result
                        .cpu_percent
                        .map(|c| format!("{c:.1} %"))
                        .unwrap_or_else(|| "-".into()),
                    result.loss_percent()
                );
                match peer {
                    Peer::Seatline => row.seatline = Some(result),
                    Peer::Baresip => row.baresip = Some(result),
                }
            }
            rows.push(row);
        }
    }
    println!(
        "Voice quality through the impairment relay (seed {}, {:.1} s of 16 kHz speech each way)\n",
        args.seed, bench.speech_secs
    );
    println!("{}", render_table(&rows));
    for v in verdicts(&rows) {
        println!("- {v}");
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_else(|e| e.to_string())
        );
    }
    Ok(())
}
