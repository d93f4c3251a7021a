//! `sip-peer kamailio [md5|sha-256]`: starts the test registrar/proxy for tests written in other
//! languages (the native app test in JavaScript), prints one JSON line with its address and the
//! test users' passwords, and runs until standard input closes (the test ends) — then stops it.

use seatline_sip_peers::{DigestAlgorithm, Kamailio, KamailioConfig};
use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let algorithm = match args.get(1).map(String::as_str) {
        None | Some("md5") => DigestAlgorithm::Md5,
        Some("sha-256") => DigestAlgorithm::Sha256,
        Some(other) => {
            eprintln!("sip-peer: unknown algorithm {other:?} (md5 or sha-256)");
            return ExitCode::from(2);
        }
    };
    if args.first().map(String::as_str) != Some("kamailio") {
        eprintln!("usage: sip-peer kamailio [md5|sha-256]");
        return ExitCode::from(2);
    }
    let proxy = match Kamailio::start(KamailioConfig::new(algorithm)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sip-peer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let users: serde_json::Map<String, serde_json::Value> =
        ["1001", "1002", "1003", "1004", "1005"]
            .iter()
            .filter_map(|u| proxy.password(u).map(|p| (u.to_string(), p.into())))
            .collect();
    let line = serde_json::json!({
        "udp": proxy.addr().to_string(),
        "tcp": proxy.tcp_addr().to_string(),
        "realm": proxy.realm(),
        "users": users,
    });
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    drop(out);
    // Run until the parent closes our stdin (or dies); Kamailio stops when `proxy` drops.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(proxy);
    ExitCode::SUCCESS
}
