//! A real TCP proxy between the desktops and the server that breaks HTTP/1.1 exchanges the way
//! bad networks do. Per request (seeded by the request's index) it passes, delays, trickles the
//! answer a few bytes at a time, resets the client after the server answered (the server
//! committed, the client never learns it), cuts the request part-way, blackholes it (takes
//! the request and never answers, so only the client's own timeouts end the wait), or passes
//! a sync write and sends it to the server once more 0.3–2 s later, after the client has moved
//! on (a duplicated, reordered request: a retrying middlebox, a replayed retransmission).
//! [`FaultProxy::heal`] turns every fault off. Each connection has its own thread.

use super::Rng;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Pass,
    /// Hold the request 0.2-1.5 s, then pass it.
    Delay,
    /// Pass the request; relay the answer in small pieces with pauses (at most ~2 s).
    Trickle,
    /// Pass the request, take the server's whole answer, then reset the client's connection.
    ResetAfterRequest,
    /// Forward part of the request, then close both sides.
    CutMidRequest,
    /// Take the request and never answer (until healed).
    Blackhole,
    /// Pass it, and send the same request to the server again 0.3-2 s later on a connection
    /// of its own (the answer to that goes nowhere). Only the sync's POSTs (a replayed read
    /// or login proves nothing); another request drawn for it passes.
    Replay,
}

pub const FAULTS: [Fault; 6] = [
    Fault::Delay,
    Fault::Trickle,
    Fault::ResetAfterRequest,
    Fault::CutMidRequest,
    Fault::Blackhole,
    Fault::Replay,
];

struct Shared {
    upstream: SocketAddr,
    seed: u64,
    /// Share of requests (in percent) that get a fault while the network is broken.
    fault_percent: u64,
    broken: AtomicBool,
    stop: AtomicBool,
    requests: AtomicU64,
    /// The first requests through the broken network get one fault of each kind (in a seeded
    /// order), so every run meets them all; the dice decide after that.
    owed: Mutex<Vec<Fault>>,
    counts: Mutex<BTreeMap<Fault, u64>>,
    /// Replays sent or still waiting to be.
    replays_pending: AtomicU64,
    /// Each replay's request line and the status the server answered it with.
    replayed: Mutex<Vec<String>>,
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`, broken from the start.
    pub fn start(upstream: SocketAddr, seed: u64, fault_percent: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut owed = FAULTS.to_vec();
        // Seeded shuffle of the owed faults.
        let mut rng = Rng(seed | 1);
        for i in (1..owed.len()).rev() {
            owed.swap(i, usize::try_from(rng.below(i as u64 + 1)).unwrap());
        }
        let shared = Arc::new(Shared {
            upstream,
            seed,
            fault_percent,
            broken: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            owed: Mutex::new(owed),
            counts: Mutex::new(BTreeMap::new()),
            replays_pending: AtomicU64::new(0),
            replayed: Mutex::new(Vec::new()),
        });
        let accept_shared = shared.clone();
        let accept = std::thread::spawn(move || {
            for client in listener.incoming() {
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = accept_shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(&shared, client);
                });
            }
        });
        FaultProxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The network is healthy again: every request passes, held connections close, and the
    /// replays still on their way have reached the server (and been answered) when this
    /// returns, so what follows sees their effect.
    pub fn heal(&self) {
        self.shared.broken.store(false, Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(30);
        while self.shared.replays_pending.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            self.shared.replays_pending.load(Ordering::SeqCst),
            0,
            "replays still pending 30 s after healing"
        );
    }

    /// Each replay's request line and the server's status line for it, e.g.
    /// `POST /api/v1/sync/push HTTP/1.1 -> HTTP/1.1 200 OK`.
    pub fn replayed(&self) -> Vec<String> {
        self.shared.replayed.lock().unwrap().clone()
    }

    /// How many requests got each treatment.
    pub fn counts(&self) -> BTreeMap<Fault, u64> {
        self.shared.counts.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.broken.store(false, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Shared {
    /// The last owed fault this request can take (a replay waits for a sync write).
    fn take_owed(&self, sync_write: bool) -> Option<Fault> {
        let mut owed = self.owed.lock().unwrap();
        let at = owed
            .iter()
            .rposition(|&f| sync_write || f != Fault::Replay)?;
        Some(owed.remove(at))
    }

    fn decide(&self, sync_write: bool) -> (Fault, Rng) {
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        // One generator per request index: a replay with the same seed gives request n the
        // same fault (which request is n-th depends on how the desktops' processes interleave).
        let mut rng = Rng((self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
        let fault = if !self.broken.load(Ordering::SeqCst) {
            Fault::Pass
        } else if let Some(owed) = self.take_owed(sync_write) {
            owed
        } else if rng.below(100) < self.fault_percent {
            match *rng.pick(&FAULTS) {
                Fault::Replay if !sync_write => Fault::Pass,
                fault => fault,
            }
        } else {
            Fault::Pass
        };
        *self.counts.lock().unwrap().entry(fault).or_default() += 1;
        (fault, rng)
    }
}

fn first_line(message: &[u8]) -> String {
    let end = message
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(message.len());
    String::from_utf8_lossy(&message[..end]).into_owned()
}

/// Drops the connection with a TCP reset rather than an orderly close.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Read);
}

fn serve(shared: &Arc<Shared>, client: TcpStream) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    // A stuck peer never pins a thread for long.
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut from_client = HttpReader::new(client.try_clone()?);
    let mut client_out = client.try_clone()?;
    let mut upstream: Option<(TcpStream, HttpReader)> = None;
    loop {
        let Some(request) = from_client.message(false)? else {
            return Ok(());
        };
        // Replays are for the sync's writes: a replayed read or login proves nothing.
        let line = first_line(&request);
        let sync_write = line.starts_with("POST ") && line.contains("/sync/");
        let (fault, mut rng) = shared.decide(sync_write);
        if fault == Fault::Blackhole {
            return blackhole(shared, client);
        }
        if upstream.is_none() {
            let stream = TcpStream::connect(shared.upstream)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(60)))?;
            let reader = HttpReader::new(stream.try_clone()?);
            upstream = Some((stream, reader));
        }
        let Some((up, up_reader)) = upstream.as_mut() else {
            return Ok(());
        };
        match fault {
            Fault::CutMidRequest => {
                let cut = usize::try_from(rng.below(request.len() as u64)).unwrap();
                up.write_all(&request[..cut])?;
                let _ = up.shutdown(Shutdown::Both);
                reset(&client);
                return Ok(());
            }
            Fault::Delay => {
                std::thread::sleep(Duration::from_millis(200 + rng.below(1300)));
            }
            _ => {}
        }
        up.write_all(&request)?;
        let Some(response) = up_reader.message(true)? else {
            reset(&client);
            return Ok(());
        };
        match fault {
            Fault::ResetAfterRequest => {
                // The server has committed and answered; the client never hears of it.
                let _ = up.shutdown(Shutdown::Both);
                reset(&client);
                return Ok(());
            }
            Fault::Trickle => {
                let piece = (response.len() / 100).max(8);
                for chunk in response.chunks(piece) {
                    client_out.write_all(chunk)?;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            Fault::Replay => {
                client_out.write_all(&response)?;
                let after = Duration::from_millis(300 + rng.below(1700));
                replay(shared, request, after);
            }
            _ => client_out.write_all(&response)?,
        }
    }
}

/// Sends `request` to the server once more after `after`, on a connection of its own, and
/// reads (and drops) the answer.
fn replay(shared: &Arc<Shared>, request: Vec<u8>, after: Duration) {
    shared.replays_pending.fetch_add(1, Ordering::SeqCst);
    let shared = shared.clone();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let sent = (|| -> std::io::Result<String> {
            let stream = TcpStream::connect(shared.upstream)?;
            stream.set_read_timeout(Some(Duration::from_secs(20)))?;
            (&stream).write_all(&request)?;
            let answer = HttpReader::new(stream).message(true)?.unwrap_or_default();
            Ok(first_line(&answer))
        })();
        let status = sent.unwrap_or_else(|e| format!("failed: {e}"));
        shared
            .replayed
            .lock()
            .unwrap()
            .push(format!("{} -> {status}", first_line(&request)));
        shared.replays_pending.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Holds the connection open and silent until the network heals (or the client gives up).
fn blackhole(shared: &Shared, client: TcpStream) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut sink = [0u8; 4096];
    let mut reader = &client;
    let until = Instant::now() + Duration::from_secs(120);
    while shared.broken.load(Ordering::SeqCst) && Instant::now() < until {
        match reader.read(&mut sink) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    reset(&client);
    Ok(())
}

/// Reads whole HTTP/1.1 messages (head and body: Content-Length, chunked, or to end of stream
/// for an answer without either) off a stream, keeping what follows for the next message.
struct HttpReader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl HttpReader {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// More bytes into the buffer; false at end of stream.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Waits until the buffer holds `n` bytes; false if the stream ended first.
    fn want(&mut self, n: usize) -> std::io::Result<bool> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn find(&self, from: usize, needle: &[u8]) -> Option<usize> {
        self.buf
            .get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    }

    /// The next whole message, or None if the stream ended cleanly before one began.
    fn message(&mut self, response: bool) -> std::io::Result<Option<Vec<u8>>> {
        let head_end = loop {
            if let Some(at) = self.find(0, b"\r\n\r\n") {
                break at + 4;
            }
            if !self.fill()? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        let no_body =
            response && (head.starts_with("http/1.1 204") || head.starts_with("http/1.1 304"));
        let end = if no_body {
            head_end
        } else if let Some(len) = header("content-length:") {
            let len: usize = len
                .parse()
                .map_err(|_| std::io::Error::other("bad content-length"))?;
            if !self.want(head_end + len)? {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            head_end + len
        } else if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
            let mut at = head_end;
            loop {
                let line_end = loop {
                    if let Some(p) = self.find(at, b"\r\n") {
                        break p;
                    }
                    if !self.fill()? {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                };
                let size_text = String::from_utf8_lossy(&self.buf[at..line_end]).to_string();
                let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
                at = line_end + 2;
                if size == 0 {
                    // Trailers (none expected) end with an empty line.
                    loop {
                        if let Some(p) = self.find(at, b"\r\n") {
                            let empty = p == at;
                            at = p + 2;
                            if empty {
                                break;
                            }
                        } else if !self.fill()? {
                            return Err(std::io::ErrorKind::UnexpectedEof.into());
                        }
                    }
                    break at;
                }
                if !self.want(at + size + 2)? {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                at += size + 2;
            }
        } else if response {
            // Neither length nor chunks: the answer runs to the end of the stream.
            while self.fill()? {}
            self.buf.len()
        } else {
            head_end
        };
        Ok(Some(self.buf.drain(..end).collect()))
    }
}
