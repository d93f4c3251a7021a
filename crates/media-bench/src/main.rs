//! `scripts/bench.sh media`: see the crate docs and the README's "Figures so far".

use clap::Parser;
use seatline_media_bench::{
    condition, conditions, render_table, verdicts, Bench, BenchCodec, CallResult, Peer, Row,
};
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
    /// Calls per peer and cell, each with its own seed (seed + 1000 × run); the table shows
    /// their means, which evens out where the dice happen to hit the speech.
    #[arg(long, default_value_t = 3)]
    repeat: u64,
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
    let bench = Bench::new(bin)?;
    let mut rows = Vec::new();
    let all = conditions();
    for cond in &conds {
        // The seed follows the condition, not its place in this run: a row replays alone.
        let i = all.iter().position(|c| c.name == cond.name).unwrap_or(0);
        for &codec in &codecs {
            let seed = args.seed.wrapping_add(i as u64);
            let mut row = Row {
                condition: cond.name.into(),
                codec,
                runs: args.repeat.max(1) as usize,
                seatline: None,
                baresip: None,
            };
            for &peer in &peers {
                let mut calls = Vec::new();
                for run in 0..args.repeat.max(1) {
                    let result = bench.call(peer, codec, cond, seed.wrapping_add(1000 * run))?;
                    eprintln!(
                        "{:<14} {:<8} {:<8} #{run} PESQ-NB {:.2} WB {} delay {} ms CPU {} loss {:.1} % concealed {:?} FEC {:?}",
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
                        result.loss_percent(),
                        result.concealed_frames,
                        result.fec_recovered
                    );
                    calls.push(result);
                }
                let mean = CallResult::mean(&calls);
                match peer {
                    Peer::Seatline => row.seatline = mean,
                    Peer::Baresip => row.baresip = mean,
                }
            }
            rows.push(row);
        }
    }
    println!(
        "Voice quality through the impairment relay (seed {}, {} call(s) per cell, {:.1} s of 16 kHz speech each way; baresip's Opus at {} kbit/s as ours)\n",
        args.seed,
        args.repeat.max(1),
        bench.speech_secs,
        seatline_media_bench::OPUS_BITRATE / 1000
    );
    println!("{}", render_table(&rows));
    let aec = seatline_media_bench::aec_cost_percent(&bench.speech, 48_000, 30.0)?;
    println!("Echo cancellation (AEC3 + noise suppression, 48 kHz, in-process): {aec:.2} % of one core\n");
    for v in verdicts(&rows, Some(aec)) {
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
