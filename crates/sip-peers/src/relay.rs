//! A seeded UDP impairment relay for voice-quality benchmarks: the caller sends its SIP through
//! the relay (as its outbound proxy), which forwards it to the registrar/proxy and rewrites the
//! SDP of offer and answer so that both sides' RTP and RTCP pass through the relay's own ports.
//! There every RTP packet meets the same seeded dice — random or Gilbert-burst loss, delay
//! jitter that reorders — in both directions, whatever the user agents are (Seatline or
//! baresip), so their scores can be put side by side.
//!
//! The decisions ([`Impairer`]) and the SIP/SDP rewriting are plain functions, tested without
//! sockets; [`ImpairmentRelay`] runs them on threads.

use crate::error::{io, Error, Result};
use crate::ports::free_port_range;
use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::BinaryHeap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use seatline_impairment::Loss;
use seatline_impairment::{LossModel, Rng};

/// Extra one-way delay, uniform in `mean ± spread` per packet: packets 20 ms apart whose delays
/// differ by more than 20 ms arrive out of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jitter {
    pub mean: Duration,
    pub spread: Duration,
}

/// What the relay does to each RTP packet (RTCP passes untouched).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    pub loss: Loss,
    pub jitter: Option<Jitter>,
}

impl Impairment {
    pub const CLEAN: Impairment = Impairment {
        loss: Loss::None,
        jitter: None,
    };

    /// A short label for tables: `clean`, `10% random`, `10% Gilbert (burst 3)`, `+40±20 ms`.
    pub fn label(&self) -> String {
        let loss = match self.loss {
            Loss::None => String::new(),
            Loss::Random { percent } => format!("{percent}% random"),
            Loss::Bursty {
                percent,
                mean_burst,
            } => format!("{percent}% Gilbert (burst {mean_burst})"),
        };
        let jitter = self
            .jitter
            .map(|j| format!("jitter {}±{} ms", j.mean.as_millis(), j.spread.as_millis()));
        match (loss.is_empty(), jitter) {
            (true, None) => "clean".into(),
            (true, Some(j)) => j,
            (false, None) => loss,
            (false, Some(j)) => format!("{loss}, {j}"),
        }
    }
}

/// The dice of one direction: for each packet, lost (`None`) or delayed by how much.
#[derive(Debug, Clone)]
pub struct Impairer {
    jitter: Option<Jitter>,
    loss: LossModel,
    rng: Rng,
}

impl Impairer {
    pub fn new(impairment: Impairment, seed: u64) -> Self {
        Self {
            jitter: impairment.jitter,
            loss: LossModel::new(impairment.loss),
            rng: Rng::new(seed),
        }
    }

    /// The next packet's fate: `None` if lost, else its extra delay.
    pub fn next_packet(&mut self) -> Option<Duration> {
        let lost = self.loss.lost(&mut self.rng);
        // The delay is drawn for lost packets too, so that the loss pattern does not shift the
        // delays of the packets that follow.
        let delay = match self.jitter {
            None => Duration::ZERO,
            Some(j) => {
                let lo = j.mean.saturating_sub(j.spread).as_secs_f64();
                let hi = (j.mean + j.spread).as_secs_f64();
                Duration::from_secs_f64(lo + (hi - lo) * self.rng.unit())
            }
        };
        (!lost).then_some(delay)
    }
}

/// Where one side's media goes, as its SDP says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaTarget {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
}

/// Rewrites an SDP body so that the peer sends to `ip`:`rtp_port` (RTCP to `rtp_port + 1`, or
/// the same port with rtcp-mux); returns the new body and where the body's owner receives.
/// `None` when the body has no audio stream or no address.
pub fn rewrite_sdp(body: &str, ip: IpAddr, rtp_port: u16) -> Option<(String, MediaTarget)> {
    let mut session_ip: Option<IpAddr> = None;
    let mut media_ip: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    let mut rtcp: Option<(u16, Option<IpAddr>)> = None;
    let mut mux = false;
    let mut in_audio = false;
    let mut seen_media = false;
    let mut out = Vec::new();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    for line in body.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.is_empty() {
            continue;
        }
        if let Some(m) = line.strip_prefix("m=") {
            seen_media = true;
            in_audio = m.starts_with("audio ");
            if in_audio && port.is_none() {
                let mut parts = m.splitn(3, ' ');
                let (_, p, rest) = (parts.next(), parts.next()?, parts.next()?);
                port = Some(p.split('/').next()?.parse().ok()?);
                out.push(format!("m=audio {rtp_port} {rest}"));
                continue;
            }
        } else if let Some(c) = line.strip_prefix("c=") {
            let addr: IpAddr = c.split(' ').nth(2)?.split('/').next()?.parse().ok()?;
            if !seen_media {
                session_ip = Some(addr);
            } else if in_audio {
                media_ip = Some(addr);
            }
            out.push(format!("c=IN {family} {ip}"));
            continue;
        } else if in_audio && line.starts_with("a=rtcp:") {
            let mut parts = line["a=rtcp:".len()..].split(' ');
            let p: u16 = parts.next()?.parse().ok()?;
            let addr = parts.nth(2).and_then(|a| a.parse().ok());
            rtcp = Some((p, addr));
            out.push(format!("a=rtcp:{} IN {family} {ip}", rtp_port + 1));
            continue;
        } else if in_audio && line == "a=rtcp-mux" {
            mux = true;
        }
        out.push(line.to_string());
    }
    let addr = media_ip.or(session_ip)?;
    let port = port?;
    let rtp = SocketAddr::new(addr, port);
    let rtcp = match rtcp {
        _ if mux => rtp,
        Some((p, a)) => SocketAddr::new(a.unwrap_or(addr), p),
        None => SocketAddr::new(addr, port.saturating_add(1)),
    };
    Some((out.join("\r\n") + "\r\n", MediaTarget { rtp, rtcp }))
}

/// A SIP message split at its first blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipText {
    /// Start line and headers, one per element, without line ends.
    pub lines: Vec<String>,
    pub body: String,
}

impl SipText {
    pub fn parse(text: &str) -> Option<SipText> {
        let (head, body) = text.split_once("\r\n\r\n")?;
        let lines: Vec<String> = head.split("\r\n").map(str::to_string).collect();
        if lines.first().is_none_or(|l| l.is_empty()) {
            return None;
        }
        Some(SipText {
            lines,
            body: body.to_string(),
        })
    }

    pub fn is_request(&self) -> bool {
        !self.lines[0].starts_with("SIP/2.0 ")
    }

    fn header_index(&self, long: &str, short: &str) -> Option<usize> {
        self.lines.iter().position(|l| {
            l.split_once(':').is_some_and(|(name, _)| {
                let name = name.trim();
                name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short)
            })
        })
    }

    /// The first value of the top Via (a header line may hold several, comma separated).
    pub fn top_via(&self) -> Option<String> {
        let i = self.header_index("Via", "v")?;
        let (_, value) = self.lines[i].split_once(':')?;
        Some(value.split(',').next()?.trim().to_string())
    }

    /// Adds our Via on top. The branch is a hash of the previous top Via's, so a retransmission
    /// or a CANCEL gets the same branch as the request it repeats or cancels (RFC 3261 16.11).
    pub fn push_via(&mut self, relay: SocketAddr) {
        let mut hasher = DefaultHasher::new();
        self.top_via().unwrap_or_default().hash(&mut hasher);
        let via = format!(
            "Via: SIP/2.0/UDP {relay};branch=z9hG4bK-relay-{:016x};rport",
            hasher.finish()
        );
        self.lines.insert(1, via);
    }

    /// Removes the top Via value (ours, on a response coming back).
    pub fn pop_via(&mut self) {
        let Some(i) = self.header_index("Via", "v") else {
            return;
        };
        let line = self.lines[i].clone();
        let Some((name, value)) = line.split_once(':') else {
            return;
        };
        match value.split_once(',') {
            Some((_, rest)) => self.lines[i] = format!("{name}: {}", rest.trim()),
            None => {
                self.lines.remove(i);
            }
        }
    }

    /// Points a Request-URI naming `from` (host:port) at `to` instead.
    pub fn retarget(&mut self, from: SocketAddr, to: SocketAddr) {
        if self.is_request() {
            self.lines[0] = self.lines[0].replace(&from.to_string(), &to.to_string());
        }
    }

    pub fn has_sdp(&self) -> bool {
        self.header_index("Content-Type", "c").is_some_and(|i| {
            self.lines[i]
                .to_ascii_lowercase()
                .contains("application/sdp")
        }) && !self.body.is_empty()
    }

    /// Replaces the body and its Content-Length.
    pub fn set_body(&mut self, body: String) {
        let len = format!("Content-Length: {}", body.len());
        match self.header_index("Content-Length", "l") {
            Some(i) => self.lines[i] = len,
            None => self.lines.push(len),
        }
        self.body = body;
    }

    pub fn render(&self) -> String {
        format!("{}\r\n\r\n{}", self.lines.join("\r\n"), self.body)
    }
}

/// Packet counts of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// RTP packets the relay received.
    pub rtp: u64,
    /// Of those, dropped by the dice.
    pub dropped: u64,
    /// Forwarded after a later-received packet (arrived out of order).
    pub reordered: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// From the caller (the SIP client of the relay) to the callee.
    pub caller_to_callee: DirectionStats,
    pub callee_to_caller: DirectionStats,
}

#[derive(Default)]
struct Counters {
    rtp: AtomicU64,
    dropped: AtomicU64,
    reordered: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> DirectionStats {
        DirectionStats {
            rtp: self.rtp.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            reordered: self.reordered.load(Ordering::Relaxed),
        }
    }
}

/// Where each side receives (learned from SDP, then from the packets it sends: symmetric RTP).
#[derive(Debug, Default, Clone, Copy)]
struct Sides {
    caller: Option<MediaTarget>,
    callee: Option<MediaTarget>,
}

/// Socket indices: caller-facing RTP/RTCP, callee-facing RTP/RTCP.
const CALLER_RTP: usize = 0;
const CALLER_RTCP: usize = 1;
const CALLEE_RTP: usize = 2;
const CALLEE_RTCP: usize = 3;

struct Scheduled {
    due: Instant,
    seq: u64,
    out: usize,
    to: SocketAddr,
    data: Vec<u8>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// RTCP shares the RTP port under rtcp-mux: its packet types 192–223 sit where RTP's marker
/// bit and payload type are (RFC 5761 section 4).
fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 8 && (192..=223).contains(&packet[1])
}

fn rtp_seq(packet: &[u8]) -> Option<u16> {
    (packet.len() >= 12 && packet[0] >> 6 == 2).then(|| u16::from_be_bytes([packet[2], packet[3]]))
}

/// The relay on loopback. Threads stop when it is dropped.
pub struct ImpairmentRelay {
    sip_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<[Counters; 2]>,
}

impl std::fmt::Debug for ImpairmentRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImpairmentRelay")
            .field("sip_addr", &self.sip_addr)
            .finish_non_exhaustive()
    }
}

const POLL: Duration = Duration::from_millis(50);

impl ImpairmentRelay {
    /// Listens for SIP on a free loopback port and forwards it to `upstream` (the proxy); the
    /// two directions' dice are seeded from `seed`.
    pub fn start(upstream: SocketAddr, impairment: Impairment, seed: u64) -> Result<Self> {
        check(&impairment)?;
        let sip = UdpSocket::bind("127.0.0.1:0").map_err(io("bind relay SIP socket"))?;
        let sip_addr = sip.local_addr().map_err(io("relay SIP address"))?;
        let mut media = Vec::new();
        for _ in 0..2 {
            let base = free_port_range(2)?;
            for port in [base, base + 1] {
                media.push(
                    UdpSocket::bind(("127.0.0.1", port))
                        .map_err(io(format!("bind relay media port {port}")))?,
                );
            }
        }
        let media: Arc<Vec<UdpSocket>> = Arc::new(media);
        let ports: Vec<u16> = media
            .iter()
            .map(|s| s.local_addr().map(|a| a.port()))
            .collect::<std::io::Result<_>>()
            .map_err(io("relay media address"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let sides = Arc::new(Mutex::new(Sides::default()));
        let counters: Arc<[Counters; 2]> = Arc::new(Default::default());
        let (tx, rx) = mpsc::channel::<Scheduled>();
        let mut threads = Vec::new();

        sip.set_read_timeout(Some(POLL))
            .map_err(io("relay SIP socket timeout"))?;
        let sip_thread = {
            let (stop, sides) = (stop.clone(), sides.clone());
            let ports = (ports[CALLER_RTP], ports[CALLEE_RTP]);
            spawn("relay-sip", move || {
                sip_loop(&sip, sip_addr, upstream, ports, &sides, &stop)
            })?
        };
        threads.push(sip_thread);
        let dice = Arc::new(Mutex::new([
            Impairer::new(impairment, seed ^ 0x5EA7_11E0_CA11_E700),
            Impairer::new(impairment, seed ^ 0x5EA7_11E0_CA11_EE00),
        ]));
        for index in 0..4 {
            let socket = media[index]
                .try_clone()
                .map_err(io("clone relay media socket"))?;
            socket
                .set_read_timeout(Some(POLL))
                .map_err(io("relay media socket timeout"))?;
            let (stop, sides, dice, counters, tx) = (
                stop.clone(),
                sides.clone(),
                dice.clone(),
                counters.clone(),
                tx.clone(),
            );
            threads.push(spawn("relay-media", move || {
                media_loop(index, &socket, &sides, &dice, &counters, &tx, &stop)
            })?);
        }
        drop(tx);
        {
            let (media, counters) = (media.clone(), counters.clone());
            threads.push(spawn("relay-out", move || {
                send_loop(&rx, &media, &counters)
            })?);
        }
        Ok(Self {
            sip_addr,
            stop,
            threads,
            counters,
        })
    }

    /// Where the caller sends its SIP (its outbound proxy).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    pub fn stats(&self) -> RelayStats {
        RelayStats {
            caller_to_callee: self.counters[0].snapshot(),
            callee_to_caller: self.counters[1].snapshot(),
        }
    }
}

impl Drop for ImpairmentRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(io(format!("spawn {name}")))
}

fn lock(sides: &Mutex<Sides>) -> std::sync::MutexGuard<'_, Sides> {
    match sides.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The next datagram, waiting in `POLL` steps; `None` once the relay stops or the socket fails.
fn receive(socket: &UdpSocket, buf: &mut [u8], stop: &AtomicBool) -> Option<(usize, SocketAddr)> {
    while !stop.load(Ordering::SeqCst) {
        match socket.recv_from(buf) {
            Ok(r) => return Some(r),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Forwards the client's requests to `upstream` and the answers back, rewriting SDP: the
/// caller's offer gets the callee-facing port, the answer the caller-facing one.
fn sip_loop(
    sip: &UdpSocket,
    me: SocketAddr,
    upstream: SocketAddr,
    (caller_port, callee_port): (u16, u16),
    sides: &Mutex<Sides>,
    stop: &AtomicBool,
) {
    let mut buf = vec![0u8; 65_536];
    let mut client: Option<SocketAddr> = None;
    let relay_ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    while let Some((n, from)) = receive(sip, &mut buf, stop) {
        let raw = &buf[..n];
        // Keep-alives (CRLF) and anything that is not a SIP message pass unchanged.
        let Some(mut msg) = std::str::from_utf8(raw).ok().and_then(SipText::parse) else {
            let to = if from == upstream {
                client
            } else {
                Some(upstream)
            };
            if let Some(to) = to {
                let _ = sip.send_to(raw, to);
            }
            continue;
        };
        let from_upstream = from == upstream;
        if !from_upstream {
            client = Some(from);
        }
        let to = match (from_upstream, msg.is_request()) {
            (false, true) => {
                msg.push_via(me);
                msg.retarget(me, upstream);
                Some(upstream)
            }
            (true, false) => {
                msg.pop_via();
                client
            }
            // Requests from the proxy to the client, responses from the client: passed on.
            (true, true) => client,
            (false, false) => Some(upstream),
        };
        if msg.has_sdp() {
            // The body's owner: the caller for what the client sends, the callee otherwise.
            let caller_sent = !from_upstream;
            let port = if caller_sent {
                callee_port
            } else {
                caller_port
            };
            if let Some((body, target)) = rewrite_sdp(&msg.body, relay_ip, port) {
                let mut s = lock(sides);
                if caller_sent {
                    s.caller = Some(target);
                } else {
                    s.callee = Some(target);
                }
                drop(s);
                msg.set_body(body);
            }
        }
        if let Some(to) = to {
            let _ = sip.send_to(msg.render().as_bytes(), to);
        }
    }
}

/// Receives on one media socket and schedules each packet on the far side's socket.
fn media_loop(
    index: usize,
    socket: &UdpSocket,
    sides: &Mutex<Sides>,
    dice: &Mutex<[Impairer; 2]>,
    counters: &[Counters; 2],
    tx: &Sender<Scheduled>,
    stop: &AtomicBool,
) {
    let mut buf = vec![0u8; 2048];
    let mut seq = 0u64;
    while let Some((n, from)) = receive(socket, &mut buf, stop) {
        let data = buf[..n].to_vec();
        let from_caller = index == CALLER_RTP || index == CALLER_RTCP;
        let rtcp_port = index == CALLER_RTCP || index == CALLEE_RTCP;
        let target = {
            let mut s = lock(sides);
            // Symmetric RTP: a side is reached where it sends from.
            let own = if from_caller {
                &mut s.caller
            } else {
                &mut s.callee
            };
            if let Some(t) = own.as_mut() {
                if rtcp_port {
                    t.rtcp = from;
                } else if !is_rtcp(&data) {
                    t.rtp = from;
                }
            }
            if from_caller {
                s.callee
            } else {
                s.caller
            }
        };
        let Some(target) = target else { continue };
        let (out, to) = match (from_caller, rtcp_port) {
            (true, false) => (CALLEE_RTP, target.rtp),
            (true, true) => (CALLEE_RTCP, target.rtcp),
            (false, false) => (CALLER_RTP, target.rtp),
            (false, true) => (CALLER_RTCP, target.rtcp),
        };
        let direction = usize::from(!from_caller);
        seq += 1;
        let now = Instant::now();
        let due = if rtcp_port || is_rtcp(&data) || rtp_seq(&data).is_none() {
            Some(now)
        } else {
            counters[direction].rtp.fetch_add(1, Ordering::Relaxed);
            let fate = match dice.lock() {
                Ok(mut d) => d[direction].next_packet(),
                Err(poisoned) => poisoned.into_inner()[direction].next_packet(),
            };
            if fate.is_none() {
                counters[direction].dropped.fetch_add(1, Ordering::Relaxed);
            }
            fate.map(|delay| now + delay)
        };
        if let Some(due) = due {
            let item = Scheduled {
                due,
                seq: (seq << 2) | index as u64,
                out,
                to,
                data,
            };
            if tx.send(item).is_err() {
                break;
            }
        }
    }
}

/// Sends each scheduled packet when it is due, from the socket facing its receiver.
fn send_loop(rx: &Receiver<Scheduled>, media: &[UdpSocket], counters: &[Counters; 2]) {
    let mut queue: BinaryHeap<Reverse<Scheduled>> = BinaryHeap::new();
    let mut highest: [Option<u16>; 2] = [None, None];
    loop {
        let now = Instant::now();
        while queue.peek().is_some_and(|Reverse(s)| s.due <= now) {
            let Some(Reverse(s)) = queue.pop() else { break };
            if let Some(seq) = rtp_seq(&s.data).filter(|_| !is_rtcp(&s.data)) {
                let direction = usize::from(s.out == CALLER_RTP);
                match highest[direction] {
                    Some(h) if seq.wrapping_sub(h) > 0x8000 => {
                        counters[direction]
                            .reordered
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    _ => highest[direction] = Some(seq),
                }
            }
            let _ = media[s.out].send_to(&s.data, s.to);
        }
        let wait = queue
            .peek()
            .map(|Reverse(s)| s.due.saturating_duration_since(Instant::now()))
            .unwrap_or(POLL);
        match rx.recv_timeout(wait) {
            Ok(s) => queue.push(Reverse(s)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                if queue.is_empty() {
                    return;
                }
                std::thread::sleep(wait);
            }
        }
    }
}

/// What the relay could not do: a bad impairment.
pub fn check(impairment: &Impairment) -> Result<()> {
    match impairment.loss.problem() {
        Some(problem) => Err(Error::Config(problem)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn run(impairment: Impairment, seed: u64, n: usize) -> Vec<Option<Duration>> {
        let mut i = Impairer::new(impairment, seed);
        (0..n).map(|_| i.next_packet()).collect()
    }

    fn loss_rate(fates: &[Option<Duration>]) -> f64 {
        fates.iter().filter(|f| f.is_none()).count() as f64 / fates.len() as f64
    }

    #[test]
    fn random_loss_hits_its_rate_and_replays_from_the_seed() {
        let imp = Impairment {
            loss: Loss::Random { percent: 10.0 },
            jitter: None,
        };
        let a = run(imp, 7, 100_000);
        let rate = loss_rate(&a);
        assert!((0.095..0.105).contains(&rate), "{rate}");
        assert_eq!(a, run(imp, 7, 100_000));
        assert_ne!(a, run(imp, 8, 100_000));
        assert!(a.iter().flatten().all(|d| d.is_zero()));
    }

    #[test]
    fn jitter_stays_in_its_band_and_reorders_packets_20_ms_apart() {
        let imp = Impairment {
            loss: Loss::None,
            jitter: Some(Jitter {
                mean: Duration::from_millis(40),
                spread: Duration::from_millis(20),
            }),
        };
        let fates: Vec<Duration> = run(imp, 3, 10_000).into_iter().flatten().collect();
        assert_eq!(fates.len(), 10_000);
        let ms: Vec<f64> = fates.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        assert!(ms.iter().all(|m| (20.0..=60.0).contains(m)));
        let mean = ms.iter().sum::<f64>() / ms.len() as f64;
        assert!((39.0..41.0).contains(&mean), "{mean}");
        // Arrival = 20 ms * i + delay: count the packets overtaken by the next one.
        let overtaken = ms.windows(2).filter(|w| w[0] > w[1] + 20.0).count() as f64;
        let share = overtaken / ms.len() as f64;
        // Two uniform draws 40 ms wide differ by more than 20 ms one way 12.5 % of the time.
        assert!((0.10..0.15).contains(&share), "{share}");
    }

    #[test]
    fn bad_impairments_are_refused() {
        assert!(check(&Impairment {
            loss: Loss::Random { percent: 120.0 },
            jitter: None
        })
        .is_err());
        assert!(check(&Impairment {
            loss: Loss::Bursty {
                percent: 10.0,
                mean_burst: 0.5
            },
            jitter: None
        })
        .is_err());
        assert!(check(&Impairment::CLEAN).is_ok());
        assert_eq!(Impairment::CLEAN.label(), "clean");
    }

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtcp:30001 IN IP4 127.0.0.1\r\na=sendrecv\r\n";

    #[test]
    fn sdp_gets_the_relay_address_and_names_where_its_owner_receives() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (body, target) = rewrite_sdp(OFFER, ip, 40000).unwrap();
        assert_eq!(target.rtp, "127.0.0.1:30000".parse().unwrap());
        assert_eq!(target.rtcp, "127.0.0.1:30001".parse().unwrap());
        assert!(body.contains("m=audio 40000 RTP/AVP 0 101\r\n"), "{body}");
        assert!(body.contains("a=rtcp:40001 IN IP4 127.0.0.1\r\n"), "{body}");
        assert!(!body.contains("30000") && !body.contains("30001"), "{body}");
        // rtcp-mux: RTCP on the RTP port; no a=rtcp: RTP port + 1.
        let mux = OFFER.replace("a=sendrecv", "a=rtcp-mux");
        assert_eq!(rewrite_sdp(&mux, ip, 40000).unwrap().1.rtcp, target.rtp);
        let plain = OFFER.replace("a=rtcp:30001 IN IP4 127.0.0.1\r\n", "");
        assert_eq!(
            rewrite_sdp(&plain, ip, 40000).unwrap().1.rtcp,
            "127.0.0.1:30001".parse().unwrap()
        );
        // No audio stream, or no address: nothing to relay.
        assert!(rewrite_sdp("v=0\r\nm=video 1 RTP/AVP 96\r\n", ip, 1).is_none());
        assert!(rewrite_sdp("v=0\r\nm=audio 5 RTP/AVP 0\r\n", ip, 1).is_none());
    }

    #[test]
    fn requests_get_our_via_and_responses_lose_it_with_lengths_kept_right() {
        let relay: SocketAddr = "127.0.0.1:5999".parse().unwrap();
        let proxy: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let invite = format!(
            "INVITE sip:1002@127.0.0.1:5999 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKa\r\n\
Call-ID: x\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
            OFFER.len()
        );
        let mut msg = SipText::parse(&invite).unwrap();
        assert!(msg.is_request() && msg.has_sdp());
        msg.push_via(relay);
        msg.retarget(relay, proxy);
        assert_eq!(msg.lines[0], "INVITE sip:1002@127.0.0.1:5060 SIP/2.0");
        let top = msg.top_via().unwrap();
        assert!(top.starts_with("SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-relay-"));
        // The same request again (a retransmission) gets the same branch.
        let mut again = SipText::parse(&invite).unwrap();
        again.push_via(relay);
        assert_eq!(again.top_via().unwrap(), top);
        let (body, _) = rewrite_sdp(&msg.body, relay.ip(), 40000).unwrap();
        msg.set_body(body.clone());
        let text = msg.render();
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        // The response comes back with both Vias (folded on one line here) and leaves with one.
        let response = format!(
            "SIP/2.0 200 OK\r\nv: {top}, SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKa\r\nCall-ID: x\r\nl: 0\r\n\r\n"
        );
        let mut resp = SipText::parse(&response).unwrap();
        assert!(!resp.is_request() && !resp.has_sdp());
        resp.pop_via();
        assert_eq!(
            resp.top_via().unwrap(),
            "SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKa"
        );
        assert!(SipText::parse("garbage").is_none());
        assert!(SipText::parse("\r\n\r\n").is_none());
    }

    fn recv_text(s: &UdpSocket) -> (String, SocketAddr) {
        let mut buf = vec![0u8; 65_536];
        let (n, from) = s.recv_from(&mut buf).expect("a message within the timeout");
        (String::from_utf8(buf[..n].to_vec()).unwrap(), from)
    }

    fn sdp_port(text: &str) -> u16 {
        let m = text.lines().find(|l| l.starts_with("m=audio ")).unwrap();
        m.split(' ').nth(1).unwrap().parse().unwrap()
    }

    /// Sockets on loopback: a client and a "proxy" exchange an INVITE and its 200 through the
    /// relay, then RTP flows both ways through the relay's ports and meets the dice.
    #[test]
    fn a_call_set_up_through_the_relay_sends_its_media_through_the_dice() {
        let t = Some(Duration::from_secs(5));
        let proxy = UdpSocket::bind("127.0.0.1:0").unwrap();
        proxy.set_read_timeout(t).unwrap();
        let relay = ImpairmentRelay::start(
            proxy.local_addr().unwrap(),
            Impairment {
                loss: Loss::Random { percent: 50.0 },
                jitter: Some(Jitter {
                    mean: Duration::from_millis(10),
                    spread: Duration::from_millis(5),
                }),
            },
            9,
        )
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(t).unwrap();
        let caller_media = UdpSocket::bind("127.0.0.1:0").unwrap();
        caller_media.set_read_timeout(t).unwrap();
        let callee_media = UdpSocket::bind("127.0.0.1:0").unwrap();
        callee_media.set_read_timeout(t).unwrap();
        let offer = OFFER
            .replace(
                "30000",
                &caller_media.local_addr().unwrap().port().to_string(),
            )
            .replace("a=rtcp:30001 IN IP4 127.0.0.1\r\n", "a=rtcp-mux\r\n");
        let invite = format!(
            "INVITE sip:1002@{} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKc\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
            relay.sip_addr(),
            client.local_addr().unwrap(),
            offer.len()
        );
        client.send_to(invite.as_bytes(), relay.sip_addr()).unwrap();
        let (got, from) = recv_text(&proxy);
        assert_eq!(from, relay.sip_addr());
        assert!(got.starts_with(&format!("INVITE sip:1002@{} ", proxy.local_addr().unwrap())));
        let toward_callee = sdp_port(&got);
        assert_ne!(toward_callee, caller_media.local_addr().unwrap().port());
        let answer = OFFER
            .replace(
                "30000",
                &callee_media.local_addr().unwrap().port().to_string(),
            )
            .replace("a=rtcp:30001 IN IP4 127.0.0.1\r\n", "a=rtcp-mux\r\n");
        let vias: Vec<&str> = got.lines().filter(|l| l.starts_with("Via:")).collect();
        let ok = format!(
            "SIP/2.0 200 OK\r\n{}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{answer}",
            vias.join("\r\n"),
            answer.len()
        );
        proxy.send_to(ok.as_bytes(), relay.sip_addr()).unwrap();
        let (back, _) = recv_text(&client);
        assert_eq!(
            back.lines().filter(|l| l.starts_with("Via:")).count(),
            1,
            "{back}"
        );
        let toward_caller = sdp_port(&back);
        // RTP: 200 packets each way; about half arrive.
        let rtp = |seq: u16| {
            let mut p = vec![0x80, 0, 0, 0];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p.extend([0u8; 168]);
            p
        };
        for seq in 0..200u16 {
            caller_media
                .send_to(&rtp(seq), ("127.0.0.1", toward_caller))
                .unwrap();
            callee_media
                .send_to(&rtp(seq), ("127.0.0.1", toward_callee))
                .unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let count = |s: &UdpSocket| {
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut buf = [0u8; 2048];
            let mut n = 0;
            while s.recv_from(&mut buf).is_ok() {
                n += 1;
            }
            n
        };
        let (at_callee, at_caller) = (count(&callee_media), count(&caller_media));
        let stats = relay.stats();
        assert_eq!(stats.caller_to_callee.rtp, 200, "{stats:?}");
        assert_eq!(stats.callee_to_caller.rtp, 200, "{stats:?}");
        assert_eq!(at_callee, 200 - stats.caller_to_callee.dropped, "{stats:?}");
        assert_eq!(at_caller, 200 - stats.callee_to_caller.dropped, "{stats:?}");
        assert!((60..140).contains(&at_callee), "{at_callee}");
        // Sent 1 ms apart with 5-15 ms of delay: many overtake each other.
        assert!(stats.caller_to_callee.reordered > 10, "{stats:?}");
    }

    #[test]
    fn rtcp_is_told_from_rtp_on_a_shared_port() {
        let mut rr = vec![0x81, 201, 0, 7];
        rr.extend([0; 28]);
        assert!(is_rtcp(&rr));
        let mut rtp = vec![0x80, 0, 0x12, 0x34];
        rtp.extend([0; 168]);
        assert!(!is_rtcp(&rtp));
        assert_eq!(rtp_seq(&rtp), Some(0x1234));
        assert_eq!(rtp_seq(&[0x80, 0]), None);
    }
}
