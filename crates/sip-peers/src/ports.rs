//! Free loopback ports. The kernel picks an unused port (bind to port 0); a process-wide set
//! keeps this process from handing the same port out twice before a peer binds it.

use crate::error::{io, Error, Result};
use std::collections::HashSet;
use std::net::{TcpListener, UdpSocket};
use std::sync::{Mutex, OnceLock};

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static SET: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    SET.get_or_init(|| Mutex::new(HashSet::new()))
}

fn bindable(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port on 127.0.0.1 that is free for both UDP and TCP right now.
pub fn free_port() -> Result<u16> {
    free_port_range(1)
}

/// The first of `count` consecutive ports on 127.0.0.1, each free for UDP and TCP right now
/// (baresip's `rtp_ports`, SIP's UDP+TCP pair, sipp's media port pair...).
pub fn free_port_range(count: u16) -> Result<u16> {
    if count == 0 {
        return Err(Error::Config("free_port_range(0)".into()));
    }
    for _ in 0..200 {
        let sock = UdpSocket::bind(("127.0.0.1", 0)).map_err(io("bind 127.0.0.1:0"))?;
        let base = sock.local_addr().map_err(io("local_addr"))?.port();
        drop(sock);
        let Some(last) = base.checked_add(count - 1) else {
            continue;
        };
        let mut set = match handed_out().lock() {
            Ok(set) => set,
            Err(poisoned) => poisoned.into_inner(),
        };
        if (base..=last).any(|p| set.contains(&p)) {
            continue;
        }
        if (base..=last).all(bindable) {
            set.extend(base..=last);
            return Ok(base);
        }
    }
    Err(Error::Config(format!(
        "no run of {count} free loopback ports found"
    )))
}
