//! The running phone: rsipstack's endpoint and dialogs, our SDP offer/answer, registration
//! loops and call control. One task ("the core") owns every call's state; SIP operations that
//! wait on the network run in their own tasks and report back to the core as messages, so the
//! core never blocks on the network and state changes happen in one place.

use crate::auto_answer::auto_answer_delay;
use crate::config::{AccountConfig, AudioIo, MediaEncryption, PhoneConfig, SipTransport};
use crate::events::{
    CallDirection, HoldParty, MediaInfo, PhoneEvent, RecordingState, RegistrationState,
};
use crate::feature_code::FeatureCodeOutcome;
use crate::identity::{caller_identity, parse_name_addr, percent_decode};
use crate::media::{CallMedia, MediaPorts};
use crate::netwatch::MoveDecision;
use crate::replaces::parse_replaces;
use crate::{dtmf_info, PhoneError, RecordingNotice};
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{
    Dialog, DialogState, DialogStateReceiver, DialogStateSender, TerminatedReason,
};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::dialog::registration::{backoff_interval, refresh_interval, Registration};
use rsipstack::dialog::DialogId;
use rsipstack::sip::{Header, Method, StatusCode, StatusCodeKind};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, TransportLayer};
use rsipstack::EndpointBuilder;
use seatline_sdp::{Codec, LocalCaps, MediaSession, NegotiatedMedia, SessionDescription};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// A command from a front end.
#[derive(Debug)]
enum Command {
    Dial {
        account: Option<String>,
        target: String,
        reply: oneshot::Sender<Result<String, PhoneError>>,
    },
    Answer {
        call: String,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    Decline {
        call: String,
        code: u16,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    Hangup {
        call: String,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    Hold {
        call: String,
        hold: bool,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    Mute {
        call: String,
        muted: bool,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    PauseRecording {
        call: String,
        paused: bool,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    Dtmf {
        call: String,
        digits: String,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    BlindTransfer {
        call: String,
        target: String,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    AttendedTransfer {
        call: String,
        consult: String,
        reply: oneshot::Sender<Result<(), PhoneError>>,
    },
    /// A feature-code call (see [`crate::feature_code`]).
    FeatureCode {
        account: Option<String>,
        code: String,
        timeout: Duration,
        reply: oneshot::Sender<Result<FeatureCodeOutcome, PhoneError>>,
    },
    /// New sound devices (or files) for the calls whose media starts from now on.
    SetAudio(AudioIo),
    /// Where the calls answered from now on are recorded (`None`: not) and their notice.
    SetRecording(Option<PathBuf>, RecordingNotice),
    Reregister,
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// Results of network operations run off the core.
enum Internal {
    InviteDone {
        call: String,
        result: Result<Option<rsipstack::sip::Response>, String>,
    },
    ReofferDone {
        call: String,
        purpose: Reoffer,
        result: Result<Option<rsipstack::sip::Response>, String>,
    },
    AutoAnswer {
        call: String,
    },
    ReferDone {
        call: String,
        result: Result<Option<rsipstack::sip::Response>, String>,
    },
    /// The network watch saw the source address towards the registrar change.
    AddressChanged {
        to: Option<IpAddr>,
    },
}

/// What the core task listens to from the current stack; replaced when the phone moves.
struct Wires {
    /// Held so the endpoint lives as long as the core listens to it.
    _endpoint: rsipstack::transaction::endpoint::Endpoint,
    states: DialogStateReceiver,
    incoming: TransactionReceiver,
}

/// How long an in-dialog request waits for the ACK of the INVITE that set the dialog up. The
/// ACK normally follows the request within milliseconds (the far end sent it first); a lost
/// ACK is resent when our 2xx is retransmitted at 0.5, 1.5 and 3.5 s.
const ACK_WAIT: Duration = Duration::from_secs(4);

/// An in-dialog request that arrived before the dialog's ACK was processed; its task waits for
/// `release` (true: handle it, false: the dialog ended).
struct AwaitingAck {
    dialog: Dialog,
    release: oneshot::Sender<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reoffer {
    Hold,
    Resume,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// Incoming, not answered yet.
    Ringing,
    /// Outgoing, waiting for a final answer.
    Dialing,
    Established,
}

struct Call {
    id: String,
    account: String,
    direction: CallDirection,
    dialog: InviteDialog,
    dialog_id: DialogId,
    state: CallState,
    sdp: MediaSession,
    /// The remote offer of an incoming INVITE, answered when the agent picks up.
    remote_offer: Option<SessionDescription>,
    /// Reserved before the offer/answer so the SDP carries ports we own (RTP and RTCP).
    rtp_socket: Option<MediaPorts>,
    local_rtp: SocketAddr,
    media: Option<CallMedia>,
    muted: bool,
    local_hold: bool,
    remote_hold: bool,
    /// A re-offer of ours is waiting for its answer (glare: answer theirs with 491).
    offer_pending: bool,
    /// We answered a re-INVITE without SDP with an offer; the answer comes in the ACK.
    offer_in_200: bool,
    answered_at: Option<Instant>,
    /// The call we were asked to transfer (REFER received): report its progress there.
    refer_source: Option<String>,
    /// The transfer we asked for is in progress on this call.
    transferring: bool,
    /// The far end's URI (callee of ours, caller of theirs): the Refer-To of an attended
    /// transfer that hands this party over.
    remote_uri: String,
}

/// Front-end side of a running phone. Cheap to clone.
#[derive(Clone)]
pub struct PhoneHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl PhoneHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, PhoneError>>) -> Command,
    ) -> Result<T, PhoneError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| PhoneError::Stopped)?;
        rx.await.map_err(|_| PhoneError::Stopped)?
    }

    /// Calls `target` (a number, `user@host` or a full SIP URI); returns the call id.
    pub async fn dial(&self, account: Option<&str>, target: &str) -> Result<String, PhoneError> {
        let account = account.map(str::to_string);
        let target = target.to_string();
        self.ask(|reply| Command::Dial {
            account,
            target,
            reply,
        })
        .await
    }
    pub async fn answer(&self, call: &str) -> Result<(), PhoneError> {
        let call = call.to_string();
        self.ask(|reply| Command::Answer { call, reply }).await
    }
    /// Refuses a ringing call (486 Busy Here by default, 603 Decline when asked).
    pub async fn decline(&self, call: &str, code: u16) -> Result<(), PhoneError> {
        let call = call.to_string();
        self.ask(|reply| Command::Decline { call, code, reply })
            .await
    }
    pub async fn hangup(&self, call: &str) -> Result<(), PhoneError> {
        let call = call.to_string();
        self.ask(|reply| Command::Hangup { call, reply }).await
    }
    pub async fn hold(&self, call: &str, hold: bool) -> Result<(), PhoneError> {
        let call = call.to_string();
        self.ask(|reply| Command::Hold { call, hold, reply }).await
    }
    pub async fn mute(&self, call: &str, muted: bool) -> Result<(), PhoneError> {
        let call = call.to_string();
        self.ask(|reply| Command::Mute { call, muted, reply }).await
    }
    /// Pauses (card payments) or resumes a call's recording: the paused span is recorded as
    /// silence of its length. An error when the call is not being recorded.
    pub async fn pause_recording(&self, call: &str, paused: bool) -> Result<(), PhoneError> {
        let call = call.to_string();
        self.ask(|reply| Command::PauseRecording {
            call,
            paused,
            reply,
        })
        .await
    }
    pub async fn send_dtmf(&self, call: &str, digits: &str) -> Result<(), PhoneError> {
        let call = call.to_string();
        let digits = digits.to_string();
        self.ask(|reply| Command::Dtmf {
            call,
            digits,
            reply,
        })
        .await
    }
    pub async fn blind_transfer(&self, call: &str, target: &str) -> Result<(), PhoneError> {
        let call = call.to_string();
        let target = target.to_string();
        self.ask(|reply| Command::BlindTransfer {
            call,
            target,
            reply,
        })
        .await
    }
    /// Transfers `call`'s far end to `consult`'s far end (REFER with Replaces).
    pub async fn attended_transfer(&self, call: &str, consult: &str) -> Result<(), PhoneError> {
        let call = call.to_string();
        let consult = consult.to_string();
        self.ask(|reply| Command::AttendedTransfer {
            call,
            consult,
            reply,
        })
        .await
    }
    /// Dials a PBX feature code (`*62`, or a full SIP URI) and hangs up as soon as the PBX
    /// answers or refuses it, or after `timeout` (CANCEL). Not a call: no events, no media, no
    /// entry in the call table. Returns how it ended; transport failures are errors.
    pub async fn feature_code(
        &self,
        account: Option<&str>,
        code: &str,
        timeout: Duration,
    ) -> Result<FeatureCodeOutcome, PhoneError> {
        let account = account.map(str::to_string);
        let code = code.to_string();
        self.ask(|reply| Command::FeatureCode {
            account,
            code,
            timeout,
            reply,
        })
        .await
    }
    /// Re-register every account now (after a network change or wake from sleep).
    /// Uses `audio` for every call whose media starts from now on (the next call picks up a
    /// new device choice without reconnecting); calls in progress that run on sound devices
    /// move to the new devices.
    pub fn set_audio(&self, audio: AudioIo) -> Result<(), PhoneError> {
        self.commands
            .send(Command::SetAudio(audio))
            .map_err(|_| PhoneError::Stopped)
    }

    /// Records the calls whose media starts from now on to `dir` (`None`: off), with `notice`
    /// played to the far end; calls in progress keep what they started with.
    pub fn set_recording(
        &self,
        dir: Option<PathBuf>,
        notice: RecordingNotice,
    ) -> Result<(), PhoneError> {
        self.commands
            .send(Command::SetRecording(dir, notice))
            .map_err(|_| PhoneError::Stopped)
    }

    pub fn reregister(&self) {
        let _ = self.commands.send(Command::Reregister);
    }
    /// Hangs up every call, un-registers, and stops.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown { reply: tx }).is_ok() {
            let _ = rx.await;
        }
    }
}

/// A running phone and its events.
pub struct Phone {
    pub handle: PhoneHandle,
    pub events: mpsc::UnboundedReceiver<PhoneEvent>,
}

struct Account {
    config: AccountConfig,
    credential: Credential,
    /// `sip:domain` (with `;transport=` when not UDP).
    registrar: rsipstack::sip::Uri,
    outbound_proxy: Option<SocketAddr>,
    contact: rsipstack::sip::Uri,
    /// TCP and TLS: the Contact naming the phone's end of the connection the REGISTER went out
    /// on, as the registrar saw it. The PBX cannot open a connection to a desktop (no TLS
    /// certificate, NAT), so calls and in-dialog requests must come back on that one; a
    /// registrar reuses a connection whose far end matches the Contact (RFC 5923's reuse, as
    /// Linphone and PJSIP do it). `None` until registered, and always for UDP.
    flow_contact: std::sync::Mutex<Option<rsipstack::sip::Uri>>,
}

impl Account {
    /// The Contact for dialogs: the registered flow's when there is one.
    fn contact(&self) -> rsipstack::sip::Uri {
        self.flow_contact
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| self.contact.clone())
    }

    fn set_flow_contact(&self, contact: Option<rsipstack::sip::Uri>) {
        *self.flow_contact.lock().unwrap_or_else(|e| e.into_inner()) = contact;
    }
}

/// rsipstack 0.7.14 appends the transport an INVITE arrived on (TLS, from our registrar) to the
/// caller's Contact, which becomes the dialog's remote target. Right for a caller at the other
/// end of that connection; wrong when a proxy record-routed the INVITE: our BYE would then ask
/// the proxy to reach a UDP caller over TLS, and the call could not be hung up from here. With
/// a route set, the target is the Contact as the caller sent it (RFC 3261 12.1.1).
fn restore_remote_target(dialog: &InviteDialog, invite: &rsipstack::sip::Request) {
    use rsipstack::sip::prelude::HeadersExt;
    if invite.record_route_headers().is_empty() {
        return;
    }
    let Ok(contact) = invite.contact_header() else {
        return;
    };
    if let Some(first) = invite
        .typed_contact_headers()
        .ok()
        .and_then(|c| c.into_iter().next())
    {
        Dialog::Invite(dialog.clone()).set_remote_target(first.uri, Some(contact.clone()));
    }
}

/// `sip:user@<local end of the connection>;transport=tcp|tls`.
fn flow_contact_uri(
    account: &AccountConfig,
    local: &SipAddr,
) -> Result<rsipstack::sip::Uri, PhoneError> {
    parse_uri(&format!(
        "sip:{}@{};transport={}",
        account.user,
        local.addr,
        account.transport.as_str()
    ))
}

struct Core {
    config: PhoneConfig,
    /// The accounts as configured, with their passwords: the stack is built again from them
    /// when the phone moves to a new address.
    logins: Vec<(AccountConfig, String)>,
    accounts: Vec<Arc<Account>>,
    dialog_layer: Arc<DialogLayer>,
    state_sender: DialogStateSender,
    events: mpsc::UnboundedSender<PhoneEvent>,
    internal: mpsc::UnboundedSender<Internal>,
    calls: HashMap<String, Call>,
    /// The address the SIP sockets, Contacts and RTP sockets use.
    advertised_ip: IpAddr,
    /// The user set the bind or advertised address: the phone does not follow the route.
    pinned_address: bool,
    /// The SIP port in use: kept when moving to a new address (firewall rules name it).
    sip_port: u16,
    /// The route left `advertised_ip` while calls were up on it: move when they end.
    move_pending: bool,
    /// A move decided while handling a message, carried out by the run loop (it replaces the
    /// wires): the new address and whether the calls end.
    move_now: Option<(IpAddr, bool)>,
    /// Where the first account's REGISTERs go: the network watch samples the route to it.
    registrar_addr: SocketAddr,
    /// Stops the current stack (transports, endpoint, network watch).
    cancel: CancellationToken,
    /// Stops the registration loops, which un-register on the way out; cancelled before
    /// `cancel` so the un-REGISTER still has a transport to go out and come back on.
    registrations_cancel: CancellationToken,
    reregister: Vec<Arc<tokio::sync::Notify>>,
    registration_tasks: Vec<tokio::task::JoinHandle<()>>,
    next_rtp_port: u16,
    /// In-dialog requests held until their dialog's ACK is processed (see `park_until_ack`).
    awaiting_ack: Vec<AwaitingAck>,
}

impl Phone {
    /// Starts the SIP endpoint, registers the accounts (with their passwords, fetched by the
    /// caller from the keychain) and begins listening for calls.
    pub async fn start(
        config: PhoneConfig,
        accounts: Vec<(AccountConfig, String)>,
    ) -> Result<Phone, PhoneError> {
        if accounts.is_empty() {
            return Err(PhoneError::Config("no SIP account configured".into()));
        }
        for (a, _) in &accounts {
            // SDES keys travel in the SDP: only SIP over TLS keeps them from eavesdroppers.
            if a.media_encryption != MediaEncryption::Off && a.transport != SipTransport::Tls {
                warn!(
                    account = %a.id,
                    transport = a.transport.as_str(),
                    "SRTP keys (SDES) will be sent in clear SDP: use SIP over TLS"
                );
            }
        }
        let first = &accounts[0].0;
        let registrar_addr = resolve_host_port(
            first.outbound_proxy.as_deref().unwrap_or(&first.domain),
            first.transport,
        )?;
        let advertised_ip = match config.advertised_ip {
            Some(ip) => ip,
            None => local_ip_towards(registrar_addr)?,
        };
        let bind_ip = if config.bind_ip.is_unspecified() {
            advertised_ip
        } else {
            config.bind_ip
        };

        let stack =
            Stack::build(&config, &accounts, advertised_ip, bind_ip, config.sip_port).await?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let _ = events_tx.send(PhoneEvent::Started {
            sip_addresses: stack.sip_addresses.clone(),
        });
        info!(sip_addresses = ?stack.sip_addresses, %advertised_ip, "phone started");

        let rtp_start = config.rtp_ports.0 & !1;
        // Addresses set by hand stay: the phone only follows the route when it chose itself.
        let pinned_address = config.advertised_ip.is_some() || !config.bind_ip.is_unspecified();
        let Stack {
            endpoint,
            incoming,
            dialog_layer,
            state_sender,
            state_receiver,
            cancel,
            accounts: built,
            sip_port,
            sip_addresses: _,
        } = stack;
        let mut core = Core {
            config,
            logins: accounts,
            accounts: built,
            dialog_layer,
            state_sender,
            events: events_tx,
            internal: internal_tx,
            calls: HashMap::new(),
            advertised_ip,
            pinned_address,
            sip_port,
            move_pending: false,
            move_now: None,
            registrar_addr,
            cancel,
            registrations_cancel: CancellationToken::new(),
            reregister: Vec::new(),
            registration_tasks: Vec::new(),
            next_rtp_port: rtp_start,
            awaiting_ack: Vec::new(),
        };
        core.start_registrations(endpoint.inner.clone());
        tokio::spawn(async move {
            let wires = Wires {
                _endpoint: endpoint,
                states: state_receiver,
                incoming,
            };
            core.run(commands_rx, internal_rx, wires).await;
        });
        Ok(Phone {
            handle: PhoneHandle {
                commands: commands_tx,
            },
            events: events_rx,
        })
    }
}

/// The SIP side bound to one local address: transports, endpoint, dialog layer and the
/// accounts' Contacts on that address. Built at start and again when the phone moves to a
/// new address.
struct Stack {
    endpoint: rsipstack::transaction::endpoint::Endpoint,
    incoming: TransactionReceiver,
    dialog_layer: Arc<DialogLayer>,
    state_sender: DialogStateSender,
    state_receiver: DialogStateReceiver,
    /// Stops the transports and the endpoint.
    cancel: CancellationToken,
    accounts: Vec<Arc<Account>>,
    sip_port: u16,
    sip_addresses: Vec<String>,
}

impl Stack {
    /// Binds SIP (UDP, and a TCP listener on the same port) on `bind_ip:sip_port` (0: any
    /// port) and builds the endpoint; the accounts' Contacts name `advertised_ip`.
    async fn build(
        config: &PhoneConfig,
        logins: &[(AccountConfig, String)],
        advertised_ip: IpAddr,
        bind_ip: IpAddr,
        sip_port: u16,
    ) -> Result<Stack, PhoneError> {
        let cancel = CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.clone());
        let udp = UdpConnection::create_connection(
            SocketAddr::new(bind_ip, sip_port),
            None,
            Some(cancel.child_token()),
        )
        .await
        .map_err(|e| PhoneError::Transport(format!("cannot bind SIP/UDP: {e}")))?;
        let sip_port = udp.get_addr().addr.port.map(u16::from).unwrap_or(sip_port);
        transport_layer.add_transport(udp.into());
        // TCP on the same port: PBXs send large INVITEs and in-dialog requests over TCP when the
        // account registered over TCP. TLS listening is not needed for a client (the PBX reuses
        // our connection), so only a TCP listener is added.
        match TcpListenerConnection::new(SocketAddr::new(bind_ip, sip_port), None).await {
            Ok(tcp) => transport_layer.add_transport(tcp.into()),
            Err(e) => {
                warn!(error = %e, "no SIP/TCP listener; TCP calls need the registration's connection")
            }
        }

        if logins.iter().any(|(a, _)| a.transport == SipTransport::Tls) {
            let ca_certs = crate::tls::trusted_roots_pem(config.tls_ca_file.as_deref())?;
            transport_layer.set_tls_config(rsipstack::transport::tls::TlsConfig {
                ca_certs: Some(ca_certs),
                ..Default::default()
            });
        }

        let endpoint = EndpointBuilder::new()
            .with_cancel_token(cancel.clone())
            .with_transport_layer(transport_layer)
            .with_user_agent(&config.user_agent)
            .with_inspector(Box::new(crate::compat::DigestAlgorithmNames))
            .with_transport_inspector(Box::new(crate::guard::MalformedRequests {
                user_agent: config.user_agent.clone(),
            }))
            .build();
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| PhoneError::Transport(e.to_string()))?;
        let sip_addresses: Vec<String> =
            endpoint.get_addrs().iter().map(|a| a.to_string()).collect();
        let dialog_layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let (state_sender, state_receiver) = dialog_layer.new_dialog_state_channel();

        let mut accounts = Vec::new();
        for (account, password) in logins {
            accounts.push(Arc::new(build_account(
                account.clone(),
                password.clone(),
                advertised_ip,
                sip_port,
            )?));
        }
        let serve_endpoint = endpoint.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_endpoint.serve().await {
                warn!(error = %e, "SIP endpoint stopped");
            }
        });
        Ok(Stack {
            endpoint,
            incoming,
            dialog_layer,
            state_sender,
            state_receiver,
            cancel,
            accounts,
            sip_port,
            sip_addresses,
        })
    }
}

fn build_account(
    config: AccountConfig,
    password: String,
    advertised_ip: IpAddr,
    sip_port: u16,
) -> Result<Account, PhoneError> {
    if config.user.is_empty() || config.domain.is_empty() {
        return Err(PhoneError::Config(format!(
            "account {:?} needs a user and a domain",
            config.id
        )));
    }
    let transport_param = match config.transport {
        SipTransport::Udp => String::new(),
        t => format!(";transport={}", t.as_str()),
    };
    let scheme = if config.transport == SipTransport::Tls {
        "sips"
    } else {
        "sip"
    };
    let registrar = parse_uri(&format!("{scheme}:{}{transport_param}", config.domain))?;
    let contact = parse_uri(&format!(
        "sip:{}@{}{transport_param}",
        config.user,
        SocketAddr::new(advertised_ip, sip_port)
    ))?;
    let outbound_proxy = match &config.outbound_proxy {
        Some(p) => Some(resolve_host_port(p, config.transport)?),
        None => None,
    };
    Ok(Account {
        flow_contact: std::sync::Mutex::new(None),
        credential: Credential {
            username: config.user.clone(),
            password,
            realm: None,
            auth_username: config.auth_user.clone(),
        },
        registrar,
        outbound_proxy,
        contact,
        config,
    })
}

fn parse_uri(s: &str) -> Result<rsipstack::sip::Uri, PhoneError> {
    rsipstack::sip::Uri::try_from(s)
        .map_err(|e| PhoneError::Config(format!("bad SIP URI {s:?}: {e}")))
}

/// `host[:port]` to a socket address (default port 5060, 5061 for TLS).
fn resolve_host_port(s: &str, transport: SipTransport) -> Result<SocketAddr, PhoneError> {
    use std::net::ToSocketAddrs;
    let default_port = if transport == SipTransport::Tls {
        5061
    } else {
        5060
    };
    let with_port = if s.parse::<SocketAddr>().is_ok()
        || s.rsplit_once(':')
            .is_some_and(|(h, p)| !h.ends_with(']') && !h.contains(':') && p.parse::<u16>().is_ok())
    {
        s.to_string()
    } else {
        format!("{s}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| PhoneError::Config(format!("cannot resolve {s:?}: {e}")))?
        .next()
        .ok_or_else(|| PhoneError::Config(format!("{s:?} has no address")))
}

/// The local address the OS would use to reach `remote` (no packet is sent).
fn local_ip_towards(remote: SocketAddr) -> Result<IpAddr, PhoneError> {
    let bind = if remote.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).map_err(|e| PhoneError::Transport(e.to_string()))?;
    socket
        .connect(remote)
        .map_err(|e| PhoneError::Transport(format!("no route to {remote}: {e}")))?;
    Ok(socket
        .local_addr()
        .map_err(|e| PhoneError::Transport(e.to_string()))?
        .ip())
}

/// (name, value) pairs of a request's headers, as the sans-IO helpers take them.
fn header_pairs(headers: &rsipstack::sip::Headers) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect()
}

fn sdp_headers() -> Vec<Header> {
    vec![Header::ContentType("application/sdp".into())]
}

/// Why a call ended, from our side: rsipstack names the UAC/UAS roles, and which one we are
/// depends on who called.
fn terminated_reason(reason: &TerminatedReason, direction: CallDirection) -> (String, Option<u16>) {
    let we_are_uac = direction == CallDirection::Outgoing;
    let by = |uac_side: bool| {
        if uac_side == we_are_uac {
            "local"
        } else {
            "remote"
        }
    };
    match reason {
        TerminatedReason::Timeout => ("timeout".into(), Some(408)),
        TerminatedReason::UacCancel => (format!("{}_cancel", by(true)), Some(487)),
        TerminatedReason::UacBye => (format!("{}_hangup", by(true)), None),
        TerminatedReason::UasBye => (format!("{}_hangup", by(false)), None),
        TerminatedReason::UacBusy | TerminatedReason::UasBusy => ("busy".into(), Some(486)),
        TerminatedReason::UasDecline => ("declined".into(), Some(603)),
        TerminatedReason::ProxyError(code) => ("failed".into(), Some(u16::from(code.clone()))),
        TerminatedReason::ProxyAuthRequired => ("auth_failed".into(), Some(407)),
        TerminatedReason::UacOther(code) | TerminatedReason::UasOther(code) => {
            ("failed".into(), Some(u16::from(code.clone())))
        }
    }
}

fn media_info(neg: &NegotiatedMedia, local: SocketAddr, recording: Option<String>) -> MediaInfo {
    MediaInfo {
        recording,
        codec: neg.codec.kind.name().to_string(),
        clock_rate: neg.codec.clock_rate,
        payload_type: neg.codec.send_pt,
        ptime: neg.ptime,
        local_rtp: local.to_string(),
        remote_rtp: match &neg.remote.host {
            seatline_sdp::Host::Ip(ip) => SocketAddr::new(*ip, neg.remote.rtp_port).to_string(),
            seatline_sdp::Host::Name(name) => format!("{name}:{}", neg.remote.rtp_port),
        },
        rtcp_mux: neg.rtcp_mux,
        local_rtcp: if neg.rtcp_mux {
            local
        } else {
            SocketAddr::new(local.ip(), local.port().saturating_add(1))
        }
        .to_string(),
        remote_rtcp: match &neg.remote.rtcp_host {
            seatline_sdp::Host::Ip(ip) => SocketAddr::new(*ip, neg.remote.rtcp_port).to_string(),
            seatline_sdp::Host::Name(name) => format!("{name}:{}", neg.remote.rtcp_port),
        },
        direction: neg.direction.as_str().to_string(),
        telephone_event: neg.telephone_event.is_some(),
        srtp: neg.srtp.as_ref().map(|s| s.suite.as_str().to_string()),
    }
}

impl Core {
    fn emit(&self, event: PhoneEvent) {
        debug!(?event, "phone event");
        let _ = self.events.send(event);
    }

    fn account(&self, id: Option<&str>) -> Result<Arc<Account>, PhoneError> {
        match id {
            None => self
                .accounts
                .first()
                .cloned()
                .ok_or_else(|| PhoneError::Config("no account".into())),
            Some(id) => self
                .accounts
                .iter()
                .find(|a| a.config.id == id)
                .cloned()
                .ok_or_else(|| PhoneError::Config(format!("no account {id:?}"))),
        }
    }

    fn start_registrations(
        &mut self,
        endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    ) {
        for account in self.accounts.clone() {
            if !account.config.register {
                continue;
            }
            let notify = Arc::new(tokio::sync::Notify::new());
            self.reregister.push(notify.clone());
            let events = self.events.clone();
            let cancel = self.registrations_cancel.clone();
            let endpoint = endpoint.clone();
            let keepalive = Duration::from_secs(u64::from(self.config.keepalive_secs));
            self.registration_tasks.push(tokio::spawn(async move {
                registration_loop(endpoint, account, keepalive, events, cancel, notify).await;
            }));
        }
        if !self.reregister.is_empty() {
            let target = self.registrar_addr;
            let events = self.events.clone();
            let notifies = self.reregister.clone();
            let internal = self.internal.clone();
            let cancel = self.cancel.clone();
            tokio::spawn(watch_network(target, events, internal, notifies, cancel));
        }
    }

    /// Reserves an RTP/RTCP port pair on the advertised address: RTP on an even port, RTCP on
    /// the next (RFC 3550 §11), both inside the configured range. The RTCP socket serves peers
    /// that do not agree to rtcp-mux.
    fn reserve_rtp(&mut self) -> Result<MediaPorts, PhoneError> {
        let (lo, hi) = self.config.rtp_ports;
        let span = u32::from(hi.saturating_sub(lo)) / 2 + 1;
        for _ in 0..span.min(2000) {
            let port = self.next_rtp_port;
            self.next_rtp_port = if port.saturating_add(3) > hi {
                lo & !1
            } else {
                port + 2
            };
            let Some(rtcp_port) = port.checked_add(1).filter(|p| *p <= hi && port >= lo) else {
                continue;
            };
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.advertised_ip, port)) else {
                continue;
            };
            // Taken by someone else: this pair is not ours, the RTP socket closes with it.
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.advertised_ip, rtcp_port)) else {
                continue;
            };
            let addr = rtp
                .local_addr()
                .map_err(|e| PhoneError::Media(e.to_string()))?;
            return Ok(MediaPorts { rtp, rtcp, addr });
        }
        Err(PhoneError::Media(format!(
            "no free RTP/RTCP port pair in {lo}-{hi}"
        )))
    }

    /// What we offer/accept on a new call of `account`, with fresh SRTP keys when the account
    /// encrypts media.
    fn local_caps(
        &self,
        rtp: SocketAddr,
        encryption: MediaEncryption,
    ) -> Result<LocalCaps, PhoneError> {
        let mut caps = LocalCaps::new(rtp.ip(), rtp.port());
        // RTCP shares the RTP socket when the peer agrees (RFC 5761); otherwise it uses the
        // reserved RTP + 1 socket, stated as a=rtcp in offers and non-mux answers (RFC 3605).
        caps.rtcp_mux = true;
        caps.rtcp_port = rtp.port().checked_add(1);
        // G.711 peers with silence suppression send CN (RFC 3389): the engine plays its noise.
        caps.comfort_noise = true;
        if encryption != MediaEncryption::Off {
            caps.srtp = crate::media::fresh_srtp_keys().map_err(PhoneError::Media)?;
            caps.require_srtp = encryption == MediaEncryption::Required;
            caps.srtp_best_effort = encryption == MediaEncryption::Optional;
        }
        let mut codecs = Vec::new();
        for name in &self.config.codecs {
            let codec = match name.to_ascii_lowercase().as_str() {
                "opus" => Some(Codec::Opus(Default::default())),
                "pcmu" => Some(Codec::Pcmu),
                "pcma" => Some(Codec::Pcma),
                _ => None,
            };
            if let Some(c) = codec {
                if crate::media::supports(&c) {
                    codecs.push(c);
                }
            }
        }
        caps.codecs = codecs;
        Ok(caps)
    }

    async fn run(
        &mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut internal_rx: mpsc::UnboundedReceiver<Internal>,
        mut wires: Wires,
    ) {
        loop {
            tokio::select! {
                Some(cmd) = commands.recv() => {
                    if let Command::Shutdown { reply } = cmd {
                        self.shutdown().await;
                        let _ = reply.send(());
                        return;
                    }
                    self.on_command(cmd);
                }
                Some(msg) = internal_rx.recv() => self.on_internal(msg),
                Some(state) = wires.states.recv() => self.on_dialog_state(state),
                Some(tx) = wires.incoming.recv() => self.on_transaction(tx),
                else => return,
            }
            if self.move_pending && self.calls.is_empty() {
                self.move_pending = false;
                // The route may have changed again (back, or elsewhere) while the calls ran.
                let to = local_ip_towards(self.registrar_addr).ok();
                if to.is_some_and(|to| to != self.advertised_ip) {
                    if let Some(moved) = self.move_to(to, false).await {
                        wires = moved;
                    }
                }
            }
            if let Some(to) = self.move_now.take() {
                if let Some(moved) = self.move_to(Some(to.0), to.1).await {
                    wires = moved;
                }
            }
        }
    }

    /// The network watch's report of a new source address: move now, later or not at all
    /// (`netwatch::decide_move`).
    fn on_address_changed(&mut self, to: Option<IpAddr>) {
        let still_assigned = UdpSocket::bind(SocketAddr::new(self.advertised_ip, 0)).is_ok();
        let decision = crate::netwatch::decide_move(
            self.advertised_ip,
            to,
            self.pinned_address,
            self.calls.len(),
            still_assigned,
        );
        info!(from = %self.advertised_ip, ?to, calls = self.calls.len(), still_assigned, ?decision, "local address changed");
        match (decision, to) {
            (MoveDecision::MoveNow { end_calls }, Some(to)) => {
                self.move_now = Some((to, end_calls))
            }
            (MoveDecision::MoveWhenIdle, _) => self.move_pending = true,
            _ => {}
        }
    }

    /// Moves the phone to `to`: ends the calls if their address is gone, un-registers the old
    /// Contact, stops the old stack and builds a new one on the new address with the same
    /// port, then registers from there. `None` when the new stack cannot be built (the
    /// address vanished again): the phone stays as it is and the next change tries again.
    async fn move_to(&mut self, to: Option<IpAddr>, end_calls: bool) -> Option<Wires> {
        let to = to?;
        let from = self.advertised_ip;
        let mut calls_ended = 0;
        if end_calls {
            let ids: Vec<String> = self.calls.keys().cloned().collect();
            for id in ids {
                if let Some(call) = self.calls.remove(&id) {
                    calls_ended += 1;
                    // No BYE: it would leave from an address the machine no longer has.
                    self.finish_call(call, "network_lost", None);
                }
            }
        }
        let stack = match Stack::build(&self.config, &self.logins, to, to, self.sip_port).await {
            Ok(stack) => stack,
            // The old port may be taken on the new address: any port will do.
            Err(_) if self.config.sip_port == 0 => {
                match Stack::build(&self.config, &self.logins, to, to, 0).await {
                    Ok(stack) => stack,
                    Err(e) => return self.move_failed(to, e),
                }
            }
            Err(e) => return self.move_failed(to, e),
        };
        // Un-register the old Contact so the PBX stops forking calls to it, unless its
        // address is gone: the un-REGISTER could not leave and would only delay the move.
        if UdpSocket::bind(SocketAddr::new(from, 0)).is_ok() {
            self.registrations_cancel.cancel();
            for task in self.registration_tasks.drain(..) {
                let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            }
        } else {
            for task in self.registration_tasks.drain(..) {
                task.abort();
            }
        }
        self.cancel.cancel();
        for parked in self.awaiting_ack.drain(..) {
            let _ = parked.release.send(false);
        }
        self.reregister.clear();
        let Stack {
            endpoint,
            incoming,
            dialog_layer,
            state_sender,
            state_receiver,
            cancel,
            accounts,
            sip_port,
            sip_addresses,
        } = stack;
        self.accounts = accounts;
        self.dialog_layer = dialog_layer;
        self.state_sender = state_sender;
        self.cancel = cancel;
        self.registrations_cancel = CancellationToken::new();
        self.advertised_ip = to;
        self.sip_port = sip_port;
        info!(%from, %to, ?sip_addresses, calls_ended, "phone moved to a new address");
        self.emit(PhoneEvent::AddressMoved {
            from: from.to_string(),
            to: to.to_string(),
            sip_addresses,
            calls_ended,
        });
        self.start_registrations(endpoint.inner.clone());
        Some(Wires {
            _endpoint: endpoint,
            states: state_receiver,
            incoming,
        })
    }

    fn move_failed(&self, to: IpAddr, e: PhoneError) -> Option<Wires> {
        warn!(%to, error = %e, "cannot move the phone to the new address");
        self.emit(PhoneEvent::Error {
            call: None,
            message: format!("cannot move to the new address {to}: {e}"),
        });
        None
    }

    async fn shutdown(&mut self) {
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            if let Some(call) = self.calls.remove(&id) {
                end_call_signalling(&call).await;
                self.finish_call(call, "local_hangup", None);
            }
        }
        // Registration loops un-register (expires=0) when cancelled.
        self.registrations_cancel.cancel();
        for task in self.registration_tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.cancel.cancel();
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Dial {
                account,
                target,
                reply,
            } => {
                let _ = reply.send(self.dial(account.as_deref(), &target, None));
            }
            Command::Answer { call, reply } => {
                let _ = reply.send(self.answer(&call));
            }
            Command::Decline { call, code, reply } => {
                let result = match self.calls.get(&call) {
                    Some(c) if c.state == CallState::Ringing => c
                        .dialog
                        .reject(Some(StatusCode::from(code)), None)
                        .map_err(|e| PhoneError::Sip(e.to_string())),
                    Some(_) => Err(PhoneError::WrongState(
                        "only a ringing call can be declined".into(),
                    )),
                    None => Err(PhoneError::NoSuchCall(call.clone())),
                };
                let _ = reply.send(result);
            }
            Command::Hangup { call, reply } => {
                let result = match self.calls.get(&call) {
                    Some(c) => {
                        let dialog = c.dialog.clone();
                        let state = c.state;
                        tokio::spawn(async move {
                            let r = match state {
                                CallState::Dialing => dialog.cancel().await,
                                CallState::Ringing => {
                                    dialog.reject(Some(StatusCode::Decline), None)
                                }
                                CallState::Established => dialog.bye().await,
                            };
                            if let Err(e) = r {
                                warn!(error = %e, "hang-up failed");
                            }
                        });
                        Ok(())
                    }
                    None => Err(PhoneError::NoSuchCall(call.clone())),
                };
                let _ = reply.send(result);
            }
            Command::Hold { call, hold, reply } => {
                let _ = reply.send(self.hold(&call, hold));
            }
            Command::Mute { call, muted, reply } => {
                let result = match self.calls.get_mut(&call) {
                    Some(c) => {
                        c.muted = muted;
                        if let Some(m) = &c.media {
                            m.set_muted(muted);
                        }
                        Ok(())
                    }
                    None => Err(PhoneError::NoSuchCall(call.clone())),
                };
                if result.is_ok() {
                    self.emit(PhoneEvent::Muted { call, muted });
                }
                let _ = reply.send(result);
            }
            Command::Dtmf {
                call,
                digits,
                reply,
            } => {
                let _ = reply.send(self.send_dtmf(&call, &digits));
            }
            Command::PauseRecording {
                call,
                paused,
                reply,
            } => {
                let result = match self.calls.get(&call) {
                    Some(c) => match &c.media {
                        Some(m) if m.set_recording_paused(paused) => Ok(()),
                        _ => Err(PhoneError::WrongState(
                            "the call is not being recorded".into(),
                        )),
                    },
                    None => Err(PhoneError::NoSuchCall(call.clone())),
                };
                if result.is_ok() {
                    let state = if paused {
                        RecordingState::Paused
                    } else {
                        RecordingState::Resumed
                    };
                    self.emit(PhoneEvent::Recording { call, state });
                }
                let _ = reply.send(result);
            }
            Command::BlindTransfer {
                call,
                target,
                reply,
            } => {
                let result = self.account(None).and_then(|account| {
                    let uri = target_uri(&target, &account.config.domain)?;
                    self.refer(&call, format!("<{uri}>"))
                });
                let _ = reply.send(result);
            }
            Command::AttendedTransfer {
                call,
                consult,
                reply,
            } => {
                let _ = reply.send(self.attended_transfer(&call, &consult));
            }
            Command::FeatureCode {
                account,
                code,
                timeout,
                reply,
            } => match self.feature_code(account.as_deref(), &code, timeout) {
                Ok(call) => {
                    tokio::spawn(async move {
                        let _ = reply.send(call.await);
                    });
                }
                Err(e) => {
                    warn!(code = %code, error = %e, "feature code not dialled");
                    let _ = reply.send(Err(e));
                }
            },
            Command::SetAudio(audio) => {
                info!(?audio, "sound devices for the calls");
                // Calls in progress on sound devices move to the new ones too.
                if let AudioIo::Devices { input, output } = &audio {
                    for media in self.calls.values().filter_map(|c| c.media.as_ref()) {
                        media.set_devices(input.clone(), output.clone());
                    }
                }
                self.config.audio = audio;
            }
            Command::SetRecording(dir, notice) => {
                info!(?dir, ?notice, "call recording for the next calls");
                self.config.call_recording_dir = dir;
                self.config.recording_notice = notice;
            }
            Command::Reregister => {
                for n in &self.reregister {
                    n.notify_one();
                }
            }
            Command::Shutdown { .. } => {}
        }
    }

    /// Starts a feature-code call (see [`crate::feature_code`]) and returns the future that
    /// runs it to its end. Its dialog reports to a state channel of its own, not the core's,
    /// so it never becomes one of `calls` and no front end hears of it; an in-dialog BYE from
    /// the PBX is still answered (rsipstack matches the dialog).
    fn feature_code(
        &mut self,
        account: Option<&str>,
        code: &str,
        timeout: Duration,
    ) -> Result<impl std::future::Future<Output = Result<FeatureCodeOutcome, PhoneError>>, PhoneError>
    {
        let account = self.account(account)?;
        let callee_text = target_uri(code, &account.config.domain)?;
        let callee = parse_uri(&callee_text)?;
        let caller = parse_uri(&format!(
            "sip:{}@{}",
            account.config.user, account.config.domain
        ))?;
        // A real offer on a port we hold (PBXs want SDP and may answer with a prompt), but no
        // media engine: nothing is played to the agent or sent to the PBX.
        let ports = self.reserve_rtp()?;
        let caps = self.local_caps(ports.addr, account.config.media_encryption)?;
        let offer = MediaSession::new(caps, session_id()).create_offer();
        let call_id = new_call_id(&self.advertised_ip);
        let option = InviteOption {
            caller_display_name: account.config.display_name.clone(),
            caller,
            callee,
            destination: invite_destination(&account),
            content_type: Some("application/sdp".into()),
            offer: Some(offer.to_bytes()),
            contact: account.contact(),
            credential: Some(account.credential.clone()),
            call_id: Some(call_id.clone()),
            ..Default::default()
        };
        let (state_tx, mut state_rx) = self.dialog_layer.new_dialog_state_channel();
        let (dialog, mut join) = self
            .dialog_layer
            .do_invite_async(option, state_tx)
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        info!(call = %call_id, uri = %callee_text, "feature code dialled");
        Ok(async move {
            let _ports = ports;
            // Keep the dialog's state channel open (rsipstack reports to it) until the end.
            let drain = tokio::spawn(async move { while state_rx.recv().await.is_some() {} });
            let started = Instant::now();
            let answer = tokio::time::timeout(timeout, &mut join).await;
            let result = match answer {
                Ok(Ok(Ok((_, Some(resp))))) => {
                    let code = u16::from(resp.status_code.clone());
                    if resp.status_code.kind() == StatusCodeKind::Successful {
                        // rsipstack has ACKed the 2xx; end the call at once. The BYE's answer
                        // is not waited for: the PBX took the code, and a lost answer would
                        // hold the next code for the 32 s of a non-INVITE transaction.
                        let bye = dialog.clone();
                        let id = call_id.clone();
                        tokio::spawn(async move {
                            if let Err(e) = bye.hangup().await {
                                debug!(call = %id, error = %e, "BYE after a feature code failed");
                            }
                        });
                        Ok(FeatureCodeOutcome::Answered { code })
                    } else {
                        Ok(FeatureCodeOutcome::Rejected {
                            code,
                            reason: resp.status_code.text().to_string(),
                        })
                    }
                }
                Ok(Ok(Ok((_, None)))) => Err(PhoneError::Sip("no final response".into())),
                Ok(Ok(Err(e))) => Err(PhoneError::Sip(e.to_string())),
                Ok(Err(e)) => Err(PhoneError::Sip(e.to_string())),
                Err(_) => {
                    let after_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    // CANCEL (sent once a provisional response is in when none came yet); the
                    // INVITE transaction then ends with 487, or a late 2xx is ACKed and BYE'd.
                    if let Err(e) = dialog.hangup().await {
                        debug!(call = %call_id, error = %e, "CANCEL of a feature code failed");
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(2), &mut join).await;
                    Ok(FeatureCodeOutcome::NoAnswer { after_ms })
                }
            };
            drain.abort();
            info!(call = %call_id, result = ?result, "feature code done");
            result
        })
    }

    fn dial(
        &mut self,
        account: Option<&str>,
        target: &str,
        extra_headers: Option<Vec<Header>>,
    ) -> Result<String, PhoneError> {
        let account = self.account(account)?;
        let callee_text = target_uri(target, &account.config.domain)?;
        let callee = parse_uri(&callee_text)?;
        let caller = parse_uri(&format!(
            "sip:{}@{}",
            account.config.user, account.config.domain
        ))?;
        let ports = self.reserve_rtp()?;
        let local_rtp = ports.addr;
        let caps = self.local_caps(local_rtp, account.config.media_encryption)?;
        let mut sdp = MediaSession::new(caps, session_id());
        let offer = sdp.create_offer();
        let call_id = new_call_id(&self.advertised_ip);
        let destination = invite_destination(&account);
        let option = InviteOption {
            caller_display_name: account.config.display_name.clone(),
            caller,
            callee,
            destination,
            content_type: Some("application/sdp".into()),
            offer: Some(offer.to_bytes()),
            contact: account.contact(),
            credential: Some(account.credential.clone()),
            headers: extra_headers,
            call_id: Some(call_id.clone()),
            ..Default::default()
        };
        let (dialog, join) = self
            .dialog_layer
            .do_invite_async(option, self.state_sender.clone())
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        let internal = self.internal.clone();
        let id = call_id.clone();
        tokio::spawn(async move {
            let result = match join.await {
                Ok(Ok((_, resp))) => Ok(resp),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let _ = internal.send(Internal::InviteDone { call: id, result });
        });
        self.emit(PhoneEvent::Dialing {
            call: call_id.clone(),
            account: account.config.id.clone(),
            target: target.to_string(),
        });
        self.calls.insert(
            call_id.clone(),
            Call {
                id: call_id.clone(),
                account: account.config.id.clone(),
                direction: CallDirection::Outgoing,
                dialog_id: dialog.id(),
                dialog,
                state: CallState::Dialing,
                sdp,
                remote_offer: None,
                rtp_socket: Some(ports),
                local_rtp,
                media: None,
                muted: false,
                local_hold: false,
                remote_hold: false,
                offer_pending: false,
                offer_in_200: false,
                answered_at: None,
                refer_source: None,
                transferring: false,
                remote_uri: callee_text,
            },
        );
        Ok(call_id)
    }

    fn answer(&mut self, id: &str) -> Result<(), PhoneError> {
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| PhoneError::NoSuchCall(id.to_string()))?;
        if call.state != CallState::Ringing {
            return Err(PhoneError::WrongState("the call is not ringing".into()));
        }
        let body = match call.remote_offer.take() {
            Some(offer) => match call.sdp.create_answer(&offer) {
                Ok((answer, _)) => answer,
                Err(e) => {
                    // Checked when the INVITE arrived; a failure here is a bug, not a peer's.
                    let _ = call
                        .dialog
                        .reject(Some(StatusCode::NotAcceptableHere), None);
                    return Err(PhoneError::Media(e.to_string()));
                }
            },
            // INVITE without SDP: we offer in the 200, the answer comes in the ACK.
            None => {
                call.offer_in_200 = true;
                call.sdp.create_offer()
            }
        };
        call.dialog
            .accept(Some(sdp_headers()), Some(body.to_bytes()))
            .map_err(|e| PhoneError::Sip(e.to_string()))?;
        call.state = CallState::Established;
        call.answered_at = Some(Instant::now());
        self.start_or_update_media(id);
        Ok(())
    }

    fn hold(&mut self, id: &str, hold: bool) -> Result<(), PhoneError> {
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| PhoneError::NoSuchCall(id.to_string()))?;
        if call.state != CallState::Established {
            return Err(PhoneError::WrongState(
                "only an answered call can be held".into(),
            ));
        }
        if call.offer_pending {
            return Err(PhoneError::WrongState(
                "a re-negotiation is in progress".into(),
            ));
        }
        if call.local_hold == hold {
            return Ok(());
        }
        let offer = if hold {
            call.sdp.hold()
        } else {
            call.sdp.resume()
        };
        call.offer_pending = true;
        let dialog = call.dialog.clone();
        let internal = self.internal.clone();
        let call_id = id.to_string();
        let purpose = if hold { Reoffer::Hold } else { Reoffer::Resume };
        tokio::spawn(async move {
            let result = dialog
                .reinvite_with_glare_retry(Some(sdp_headers()), Some(offer.to_bytes()), 3)
                .await
                .map_err(|e| e.to_string());
            let _ = internal.send(Internal::ReofferDone {
                call: call_id,
                purpose,
                result,
            });
        });
        Ok(())
    }

    fn send_dtmf(&mut self, id: &str, digits: &str) -> Result<(), PhoneError> {
        let call = self
            .calls
            .get(id)
            .ok_or_else(|| PhoneError::NoSuchCall(id.to_string()))?;
        if call.state != CallState::Established {
            return Err(PhoneError::WrongState("DTMF needs an answered call".into()));
        }
        if let Some(bad) = digits.chars().find(|c| dtmf_info::event_code(*c).is_none()) {
            return Err(PhoneError::Config(format!("{bad:?} is not a DTMF digit")));
        }
        let rfc4733 = call
            .sdp
            .negotiated()
            .is_some_and(|n| n.telephone_event.is_some());
        let method = match (&call.media, rfc4733) {
            (Some(media), true) => {
                for d in digits.chars() {
                    media.send_dtmf(d);
                }
                "rfc4733"
            }
            _ => {
                // No telephone-event agreed: SIP INFO (application/dtmf-relay), one per digit.
                let dialog = call.dialog.clone();
                let digits = digits.to_string();
                tokio::spawn(async move {
                    for d in digits.chars() {
                        let body = dtmf_info::relay_body(d, 160);
                        let headers = vec![Header::ContentType("application/dtmf-relay".into())];
                        if let Err(e) = dialog.info(Some(headers), Some(body.into_bytes())).await {
                            warn!(error = %e, "INFO DTMF failed");
                        }
                    }
                });
                "info"
            }
        };
        self.emit(PhoneEvent::DtmfSent {
            call: id.to_string(),
            digits: digits.to_string(),
            method: method.into(),
        });
        Ok(())
    }

    fn refer(&mut self, id: &str, refer_to: String) -> Result<(), PhoneError> {
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| PhoneError::NoSuchCall(id.to_string()))?;
        if call.state != CallState::Established {
            return Err(PhoneError::WrongState(
                "only an answered call can be transferred".into(),
            ));
        }
        call.transferring = true;
        let dialog = call.dialog.clone();
        let internal = self.internal.clone();
        let call_id = id.to_string();
        tokio::spawn(async move {
            let result = dialog
                .refer(refer_to, None, None)
                .await
                .map_err(|e| e.to_string());
            let _ = internal.send(Internal::ReferDone {
                call: call_id,
                result,
            });
        });
        Ok(())
    }

    fn attended_transfer(&mut self, id: &str, consult: &str) -> Result<(), PhoneError> {
        let target = self
            .calls
            .get(consult)
            .ok_or_else(|| PhoneError::NoSuchCall(consult.to_string()))?;
        if target.state != CallState::Established {
            return Err(PhoneError::WrongState(
                "the consultation call is not answered".into(),
            ));
        }
        // Refer-To: the consulted party, with Replaces naming our dialog with it (RFC 3891):
        // call-id; to-tag is the consulted side's tag, from-tag ours.
        let remote_uri = target.remote_uri.clone();
        let d = &target.dialog.id();
        let replaces = format!(
            "{};to-tag={};from-tag={}",
            d.call_id, d.remote_tag, d.local_tag
        );
        let refer_to = format!(
            "<{}?Replaces={}>",
            strip_uri_params(&remote_uri),
            uri_escape(&replaces)
        );
        self.refer(id, refer_to)
    }

    fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::InviteDone { call, result } => self.on_invite_done(&call, result),
            Internal::AddressChanged { to } => self.on_address_changed(to),
            Internal::ReofferDone {
                call,
                purpose,
                result,
            } => self.on_reoffer_done(&call, purpose, result),
            Internal::AutoAnswer { call } => {
                if self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.state == CallState::Ringing)
                {
                    if let Err(e) = self.answer(&call) {
                        self.emit(PhoneEvent::Error {
                            call: Some(call),
                            message: format!("auto-answer failed: {e}"),
                        });
                    }
                }
            }
            Internal::ReferDone { call, result } => {
                let accepted = matches!(&result, Ok(Some(r)) if r.status_code.kind() == StatusCodeKind::Successful);
                if !accepted {
                    let code = match &result {
                        Ok(Some(r)) => u16::from(r.status_code.clone()),
                        _ => 500,
                    };
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.transferring = false;
                    }
                    self.emit(PhoneEvent::TransferProgress {
                        call,
                        status: code,
                        done: true,
                    });
                }
            }
        }
    }

    fn on_invite_done(
        &mut self,
        id: &str,
        result: Result<Option<rsipstack::sip::Response>, String>,
    ) {
        // A call placed for a REFER we accepted: its outcome ends that subscription.
        let transferor = self.calls.get(id).and_then(|c| c.refer_source.clone());
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        match result {
            Ok(Some(resp)) if resp.status_code.kind() == StatusCodeKind::Successful => {
                call.state = CallState::Established;
                call.answered_at = Some(Instant::now());
                match SessionDescription::parse(resp.body()) {
                    Ok(answer) => {
                        if let Err(e) = call.sdp.process_answer(&answer) {
                            warn!(error = %e, "unusable SDP answer; hanging up");
                            let dialog = call.dialog.clone();
                            tokio::spawn(async move {
                                let _ = dialog.bye().await;
                            });
                            return;
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "200 OK without a usable SDP answer; hanging up");
                        let dialog = call.dialog.clone();
                        tokio::spawn(async move {
                            let _ = dialog.bye().await;
                        });
                        return;
                    }
                }
                self.start_or_update_media(id);
                self.notify_transferor(transferor.as_deref(), StatusCode::OK);
            }
            // Failures end through the dialog's Terminated state; an error with no dialog state
            // (transport failure before any response) ends here.
            Ok(Some(resp)) => {
                self.notify_transferor(transferor.as_deref(), resp.status_code.clone());
            }
            Ok(None) | Err(_) => {
                self.notify_transferor(transferor.as_deref(), StatusCode::ServiceUnavailable);
                let reason = match &result {
                    Err(e) => e.clone(),
                    _ => "no response".into(),
                };
                if let Some(call) = self.calls.remove(id) {
                    self.finish_call(call, "failed", None);
                    self.emit(PhoneEvent::Error {
                        call: Some(id.to_string()),
                        message: reason,
                    });
                }
            }
        }
    }

    /// The final NOTIFY of the implicit subscription a REFER created (RFC 3515 2.4.5): the
    /// transferor learns how the call to the target ended and may hang up.
    fn notify_transferor(&self, transferor: Option<&str>, status: StatusCode) {
        let Some(dialog) = transferor
            .and_then(|t| self.calls.get(t))
            .map(|c| c.dialog.clone())
        else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = dialog
                .notify_refer(status, "terminated;reason=noresource")
                .await
            {
                debug!(error = %e, "final transfer NOTIFY failed");
            }
        });
    }

    fn on_reoffer_done(
        &mut self,
        id: &str,
        purpose: Reoffer,
        result: Result<Option<rsipstack::sip::Response>, String>,
    ) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.offer_pending = false;
        let answer = match &result {
            Ok(Some(resp)) if resp.status_code.kind() == StatusCodeKind::Successful => {
                SessionDescription::parse(resp.body()).ok()
            }
            _ => None,
        };
        let Some(answer) = answer else {
            call.sdp.cancel_offer();
            let message = match result {
                Ok(Some(r)) => format!("{:?} refused: {}", purpose, r.status_code),
                Ok(None) => format!("{purpose:?}: no answer"),
                Err(e) => format!("{purpose:?} failed: {e}"),
            };
            self.emit(PhoneEvent::Error {
                call: Some(id.to_string()),
                message,
            });
            return;
        };
        if let Err(e) = call.sdp.process_answer(&answer) {
            self.emit(PhoneEvent::Error {
                call: Some(id.to_string()),
                message: format!("re-offer answer unusable: {e}"),
            });
            return;
        }
        call.local_hold = purpose == Reoffer::Hold;
        let event = if call.local_hold {
            PhoneEvent::Held {
                call: id.to_string(),
                by: HoldParty::Local,
            }
        } else {
            PhoneEvent::Resumed {
                call: id.to_string(),
                by: HoldParty::Local,
            }
        };
        self.start_or_update_media(id);
        self.emit(event);
    }

    /// Starts media for a call once SDP is agreed, or applies a new agreement to running media.
    fn start_or_update_media(&mut self, id: &str) {
        let settings = self.config.clone();
        let audio = &settings.audio;
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let Some(neg) = call.sdp.negotiated().cloned() else {
            return;
        };
        // The call recording starts with the media (an answered call): its file is chosen now.
        let call_recording = match (&self.config.call_recording_dir, &call.media) {
            (Some(dir), None) if call.rtp_socket.is_some() => {
                match crate::recording::CallRecording::begin(
                    dir,
                    &call.id,
                    call.direction,
                    &call.remote_uri,
                    neg.codec.kind.name(),
                    neg.codec.clock_rate,
                ) {
                    Ok(r) => Some(r),
                    Err(message) => {
                        tracing::warn!(%message, "call recording not started");
                        let _ = self.events.send(PhoneEvent::Recording {
                            call: id.to_string(),
                            state: RecordingState::Failed { message },
                        });
                        None
                    }
                }
            }
            _ => None,
        };
        let recording = crate::media::recording_path(audio, &call.id)
            .or_else(|| call_recording.as_ref().map(|r| r.wav.clone()))
            .map(|p| p.display().to_string());
        let info = media_info(&neg, call.local_rtp, recording);
        let first = call.media.is_none();
        if let Some(media) = &call.media {
            media.update(&neg);
        } else if let Some(ports) = call.rtp_socket.take() {
            match CallMedia::start(
                ports,
                &neg,
                &settings,
                &call.id,
                call.muted,
                call_recording,
                self.events.clone(),
            ) {
                Ok(m) => call.media = Some(m),
                Err(e) => {
                    let message = format!("media failed to start: {e}");
                    let _ = self.events.send(PhoneEvent::Error {
                        call: Some(id.to_string()),
                        message,
                    });
                }
            }
        }
        // Remote hold as the peer's offer/answer states it (RFC 6337).
        let remote_hold = call.sdp.is_remote_hold();
        let hold_change = (remote_hold != call.remote_hold).then_some(remote_hold);
        call.remote_hold = remote_hold;
        let direction = call.direction;
        if first {
            self.emit(PhoneEvent::Established {
                call: id.to_string(),
                direction,
                media: Some(info),
            });
        } else {
            self.emit(PhoneEvent::MediaChanged {
                call: id.to_string(),
                media: info,
            });
        }
        match hold_change {
            Some(true) => self.emit(PhoneEvent::Held {
                call: id.to_string(),
                by: HoldParty::Remote,
            }),
            Some(false) => self.emit(PhoneEvent::Resumed {
                call: id.to_string(),
                by: HoldParty::Remote,
            }),
            None => {}
        }
    }

    fn finish_call(&self, call: Call, reason: &str, code: Option<u16>) {
        let duration_ms = call.answered_at.map(|t| t.elapsed().as_millis() as u64);
        let quality = call.media.and_then(|m| m.stop());
        self.dialog_layer.remove_dialog(&call.dialog_id);
        self.dialog_layer.remove_dialog(&call.dialog.id());
        self.emit(PhoneEvent::Ended {
            call: call.id,
            reason: reason.to_string(),
            code,
            duration_ms,
            quality,
        });
    }

    fn call_for_dialog(&self, id: &DialogId) -> Option<String> {
        self.calls
            .contains_key(&id.call_id)
            .then(|| id.call_id.clone())
    }

    fn on_dialog_state(&mut self, state: DialogState) {
        if (state.is_confirmed() || state.is_terminated()) && !self.awaiting_ack.is_empty() {
            self.release_after_ack();
        }
        match state {
            DialogState::Early(id, resp) => {
                // Our own 180 on an incoming call also passes through Early.
                let outgoing = self.call_for_dialog(&id).filter(|c| {
                    self.calls
                        .get(c)
                        .is_some_and(|c| c.direction == CallDirection::Outgoing)
                });
                if let Some(call) = outgoing {
                    self.emit(PhoneEvent::RemoteRinging {
                        call,
                        early_media: !resp.body().is_empty(),
                    });
                }
            }
            DialogState::Confirmed(id, _) => {
                let Some(call_id) = self.call_for_dialog(&id) else {
                    return;
                };
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                call.dialog_id = id;
                if call.offer_in_200 {
                    // Our offer went in a 200; the ACK carries the answer.
                    call.offer_in_200 = false;
                    let answer = call
                        .dialog
                        .last_remote_ack()
                        .and_then(|ack| SessionDescription::parse(ack.body()).ok());
                    match answer {
                        Some(a) => {
                            if let Err(e) = call.sdp.process_answer(&a) {
                                warn!(error = %e, "ACK answer unusable");
                            }
                            self.start_or_update_media(&call_id);
                        }
                        None => call.sdp.cancel_offer(),
                    }
                }
            }
            DialogState::Updated(id, req, handle) => self.on_remote_offer(&id, req, handle),
            DialogState::Info(id, req, handle) => {
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::OK).await;
                });
                if let Some(call) = self.call_for_dialog(&id) {
                    if let Some(digit) =
                        dtmf_info::parse_info_body(&header_pairs(&req.headers), req.body())
                    {
                        self.emit(PhoneEvent::DtmfReceived {
                            call,
                            digit,
                            method: "info".into(),
                        });
                    }
                }
            }
            DialogState::Options(_, _, handle) => {
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::OK).await;
                });
            }
            DialogState::Refer(id, req, handle) => self.on_refer(&id, req, handle),
            DialogState::Notify(id, req, handle) => {
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::OK).await;
                });
                let Some(call_id) = self.call_for_dialog(&id) else {
                    return;
                };
                if let Some((code, terminated)) =
                    crate::refer_notify::parse(&header_pairs(&req.headers), req.body())
                {
                    let done = terminated || code >= 200;
                    self.emit(PhoneEvent::TransferProgress {
                        call: call_id.clone(),
                        status: code,
                        done,
                    });
                    // The transferee reached the target: our part is over (RFC 5589 section 6).
                    if done && (200..300).contains(&code) {
                        if let Some(call) = self.calls.get(&call_id) {
                            let dialog = call.dialog.clone();
                            tokio::spawn(async move {
                                let _ = dialog.bye().await;
                            });
                        }
                    }
                }
            }
            DialogState::Message(_, _, handle) | DialogState::Publish(_, _, handle) => {
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::MethodNotAllowed).await;
                });
            }
            DialogState::Terminated(id, reason) => {
                let Some(call_id) = self.call_for_dialog(&id) else {
                    self.dialog_layer.remove_dialog(&id);
                    return;
                };
                if let Some(call) = self.calls.remove(&call_id) {
                    let (reason, code) = terminated_reason(&reason, call.direction);
                    self.finish_call(call, &reason, code);
                }
            }
            DialogState::Calling(_) | DialogState::Trying(_) | DialogState::WaitAck(_, _) => {}
        }
    }

    /// A re-INVITE or UPDATE from the far end.
    fn on_remote_offer(
        &mut self,
        id: &DialogId,
        req: rsipstack::sip::Request,
        handle: rsipstack::dialog::dialog::TransactionHandle,
    ) {
        let Some(call_id) = self.call_for_dialog(id) else {
            tokio::spawn(async move {
                let _ = handle.reply(StatusCode::CallTransactionDoesNotExist).await;
            });
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if call.offer_pending {
            // Glare (RFC 3261 section 14.2): our own re-offer is outstanding.
            tokio::spawn(async move {
                let _ = handle.reply(StatusCode::RequestPending).await;
            });
            return;
        }
        if req.body().is_empty() {
            if req.method == Method::Update {
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::OK).await;
                });
                return;
            }
            // re-INVITE without SDP: offer in the 200 (RFC 3261 section 14.2), answer in ACK.
            call.offer_in_200 = true;
            let offer = call.sdp.create_offer().to_bytes();
            tokio::spawn(async move {
                let _ = handle
                    .respond(StatusCode::OK, Some(sdp_headers()), Some(offer))
                    .await;
            });
            return;
        }
        let offer = match SessionDescription::parse(req.body()) {
            Ok(o) => o,
            Err(e) => {
                warn!(error = %e, "malformed SDP in re-offer");
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::BadRequest).await;
                });
                return;
            }
        };
        match call.sdp.create_answer(&offer) {
            Ok((answer, _)) => {
                let body = answer.to_bytes();
                tokio::spawn(async move {
                    let _ = handle
                        .respond(StatusCode::OK, Some(sdp_headers()), Some(body))
                        .await;
                });
                self.start_or_update_media(&call_id);
            }
            Err(e) => {
                warn!(error = %e, "re-offer not acceptable");
                tokio::spawn(async move {
                    let _ = handle.reply(StatusCode::NotAcceptableHere).await;
                });
            }
        }
    }

    /// The far end asks us to call someone else (blind or attended transfer, RFC 3515).
    fn on_refer(
        &mut self,
        id: &DialogId,
        req: rsipstack::sip::Request,
        handle: rsipstack::dialog::dialog::TransactionHandle,
    ) {
        let Some(call_id) = self.call_for_dialog(id) else {
            tokio::spawn(async move {
                let _ = handle.reply(StatusCode::CallTransactionDoesNotExist).await;
            });
            return;
        };
        let refer_to = req
            .headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case("Refer-To") || h.name() == "r")
            .map(|h| h.value().to_string());
        let Some(target) = refer_to.as_deref().and_then(parse_name_addr) else {
            tokio::spawn(async move {
                let _ = handle.reply(StatusCode::BadRequest).await;
            });
            return;
        };
        tokio::spawn(async move {
            let _ = handle.reply(StatusCode::Accepted).await;
        });
        // Embedded headers (`?Replaces=...`) become headers of the new INVITE.
        let (uri, embedded) = match target.uri.split_once('?') {
            Some((u, h)) => (u.to_string(), h.to_string()),
            None => (target.uri.clone(), String::new()),
        };
        let mut headers = Vec::new();
        for pair in embedded.split('&').filter(|p| !p.is_empty()) {
            if let Some((name, value)) = pair.split_once('=') {
                headers.push(Header::Other(name.to_string(), percent_decode(value)));
            }
        }
        self.emit(PhoneEvent::TransferRequested {
            call: call_id.clone(),
            target: uri.clone(),
        });
        let account = self.calls.get(&call_id).map(|c| c.account.clone());
        let original_dialog = self.calls.get(&call_id).map(|c| c.dialog.clone());
        match self.dial(
            account.as_deref(),
            &uri,
            (!headers.is_empty()).then_some(headers),
        ) {
            Ok(new_call) => {
                if let Some(c) = self.calls.get_mut(&new_call) {
                    c.refer_source = Some(call_id);
                }
                if let Some(dialog) = original_dialog {
                    tokio::spawn(async move {
                        let _ = dialog
                            .notify_refer(StatusCode::Trying, "active;expires=60")
                            .await;
                    });
                }
            }
            Err(e) => {
                if let Some(dialog) = original_dialog {
                    tokio::spawn(async move {
                        let _ = dialog
                            .notify_refer(
                                StatusCode::ServiceUnavailable,
                                "terminated;reason=noresource",
                            )
                            .await;
                    });
                }
                self.emit(PhoneEvent::Error {
                    call: Some(call_id),
                    message: format!("transfer target could not be called: {e}"),
                });
            }
        }
    }

    /// A transaction outside any existing dialog (or one rsipstack did not match).
    fn on_transaction(&mut self, mut tx: rsipstack::transaction::transaction::Transaction) {
        let has_to_tag = tx
            .original
            .headers
            .iter()
            .find_map(|h| match h {
                Header::To(to) => {
                    Some(to.value().contains(";tag=") || to.value().contains("; tag="))
                }
                _ => None,
            })
            .unwrap_or(false);
        if has_to_tag {
            match self.dialog_layer.match_dialog(&tx) {
                Some(d) if before_ack(&d, &tx.original.method) => self.park_until_ack(d, tx),
                Some(mut d) => {
                    tokio::spawn(async move {
                        if let Err(e) = d.handle(&mut tx).await {
                            debug!(error = %e, "in-dialog request failed");
                        }
                    });
                }
                None => {
                    tokio::spawn(async move {
                        if tx.original.method != Method::Ack {
                            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                        }
                    });
                }
            }
            return;
        }
        match tx.original.method {
            Method::Invite => self.on_new_invite(tx),
            Method::Options => {
                tokio::spawn(async move {
                    let _ = tx.reply(StatusCode::OK).await;
                });
            }
            Method::Ack => {}
            Method::Bye | Method::Cancel => {
                tokio::spawn(async move {
                    let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                });
            }
            _ => {
                tokio::spawn(async move {
                    let _ = tx.reply(StatusCode::MethodNotAllowed).await;
                });
            }
        }
    }

    /// Holds an in-dialog request that arrived while its dialog still waits for the ACK of the
    /// INVITE that set it up. rsipstack 0.7.14 (`ServerInviteDialog::handle`) treats such a
    /// request as part of the initial INVITE: a re-INVITE is never answered (its handler waits
    /// for an ACK of its own, so the proxy ends it with 408) and INFO, UPDATE, NOTIFY or REFER
    /// are dropped silently. The far end sent its ACK first, but the two race through a proxy's
    /// parallel workers and through our own tasks, so the request waits here for the
    /// `Confirmed` state and is then handled as usual.
    fn park_until_ack(
        &mut self,
        mut dialog: Dialog,
        mut tx: rsipstack::transaction::transaction::Transaction,
    ) {
        let id = dialog.id();
        let method = tx.original.method;
        info!(dialog = %id, %method, "in-dialog request before the ACK: held until the ACK");
        let (release, released) = oneshot::channel();
        self.awaiting_ack.retain(|a| !a.release.is_closed());
        self.awaiting_ack.push(AwaitingAck {
            dialog: dialog.clone(),
            release,
        });
        tokio::spawn(async move {
            if method == Method::Invite {
                // Stops retransmissions and the proxy's no-answer timer while we wait.
                let _ = tx.send_trying().await;
            }
            match tokio::time::timeout(ACK_WAIT, released).await {
                Ok(Ok(true)) => {
                    debug!(dialog = %id, %method, "ACK processed: handling the held request");
                    if let Err(e) = dialog.handle(&mut tx).await {
                        debug!(error = %e, "in-dialog request failed");
                    }
                }
                Ok(Ok(false)) => {
                    let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                }
                // No ACK in time: 500 with Retry-After, what RFC 3261 section 14.2 prescribes
                // for a re-INVITE overlapping the previous INVITE transaction.
                Ok(Err(_)) | Err(_) => {
                    warn!(dialog = %id, %method, "no ACK for the dialog; answering 500 with Retry-After");
                    let retry = rand::random_range(1..=10u32);
                    let headers = vec![Header::RetryAfter(retry.to_string().into())];
                    let _ = tx
                        .reply_with(StatusCode::ServerInternalError, headers, None)
                        .await;
                }
            }
        });
    }

    /// Lets the held requests of every dialog that left `WaitAck` go on.
    fn release_after_ack(&mut self) {
        let mut still_waiting = Vec::new();
        for held in self.awaiting_ack.drain(..) {
            let state = held.dialog.state();
            if state.waiting_ack() {
                still_waiting.push(held);
            } else {
                let _ = held.release.send(!state.is_terminated());
            }
        }
        self.awaiting_ack = still_waiting;
    }

    fn on_new_invite(&mut self, mut tx: rsipstack::transaction::transaction::Transaction) {
        let headers = header_pairs(&tx.original.headers);
        // Which account: the one whose user the request addresses, else the first.
        let addressed = tx.original.uri.auth.as_ref().map(|a| a.user.clone());
        let account = addressed
            .as_deref()
            .and_then(|u| self.accounts.iter().find(|a| a.config.user == u).cloned())
            .or_else(|| self.accounts.first().cloned());
        let Some(account) = account else {
            return;
        };
        // An attended transfer's INVITE names the call it replaces (RFC 3891): it must match
        // one of ours (481 otherwise) and is answered without ringing.
        let replaces_header = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Replaces"))
            .map(|(_, v)| v.clone());
        let replaced = match replaces_header.as_deref() {
            None => None,
            Some(value) => {
                let matched = parse_replaces(value).and_then(|r| {
                    self.calls.values().find(|c| {
                        let d = c.dialog.id();
                        d.call_id == r.call_id
                            && d.local_tag == r.to_tag
                            && d.remote_tag == r.from_tag
                            && (!r.early_only || c.state != CallState::Established)
                    })
                });
                match matched {
                    Some(c) => Some(c.id.clone()),
                    None => {
                        tokio::spawn(async move {
                            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                        });
                        return;
                    }
                }
            }
        };
        let busy = self
            .calls
            .values()
            .any(|c| c.state != CallState::Ringing || c.direction == CallDirection::Incoming);
        if busy && !self.config.call_waiting && replaced.is_none() {
            tokio::spawn(async move {
                let _ = tx.reply(StatusCode::BusyHere).await;
            });
            return;
        }
        // Check the offer before ringing: 488 now rather than after the agent picked up.
        let offer = if tx.original.body().is_empty() {
            None
        } else {
            match SessionDescription::parse(tx.original.body()) {
                Ok(o) => Some(o),
                Err(e) => {
                    warn!(error = %e, "INVITE with malformed SDP");
                    tokio::spawn(async move {
                        let _ = tx.reply(StatusCode::BadRequest).await;
                    });
                    return;
                }
            }
        };
        let ports = match self.reserve_rtp() {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "no RTP port for an incoming call");
                tokio::spawn(async move {
                    let _ = tx.reply(StatusCode::ServiceUnavailable).await;
                });
                return;
            }
        };
        let local_rtp = ports.addr;
        let caps = match self.local_caps(local_rtp, account.config.media_encryption) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "no SRTP keys for an incoming call");
                tokio::spawn(async move {
                    let _ = tx.reply(StatusCode::ServerInternalError).await;
                });
                return;
            }
        };
        let sdp = MediaSession::new(caps, session_id());
        if let Some(o) = &offer {
            if let Err(e) = sdp.clone().create_answer(o) {
                let code = e.sip_status();
                tokio::spawn(async move {
                    let _ = tx.reply(StatusCode::from(code)).await;
                });
                return;
            }
        }
        let dialog = match self.dialog_layer.get_or_create_server_invite(
            &tx,
            self.state_sender.clone(),
            Some(account.credential.clone()),
            Some(account.contact()),
        ) {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "cannot create a dialog for an INVITE");
                tokio::spawn(async move {
                    let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                });
                return;
            }
        };
        restore_remote_target(&dialog, &tx.original);
        let call_id = dialog.id().call_id.clone();
        let waiting = self
            .calls
            .values()
            .any(|c| c.state == CallState::Established);
        let caller = caller_identity(&headers, &account.config.ivr_headers);
        let auto_answer = auto_answer_delay(
            &headers,
            account.config.auto_answer_ms.map(Duration::from_millis),
            account.config.honour_auto_answer_requests,
        )
        // Never auto-answer over a call in progress: the agent decides.
        .filter(|_| !waiting);
        // A replacing call continues a conversation the agent already has: answer it now.
        let auto_answer = if replaced.is_some() {
            Some(Duration::ZERO)
        } else {
            auto_answer
        };

        let mut handler = dialog.clone();
        tokio::spawn(async move {
            if let Err(e) = handler.handle(&mut tx).await {
                debug!(error = %e, "INVITE transaction ended with an error");
            }
        });
        if let Err(e) = dialog.ringing(None, None) {
            warn!(error = %e, "could not send 180 Ringing");
        }
        self.calls.insert(
            call_id.clone(),
            Call {
                id: call_id.clone(),
                account: account.config.id.clone(),
                direction: CallDirection::Incoming,
                dialog_id: dialog.id(),
                dialog,
                state: CallState::Ringing,
                sdp,
                remote_offer: offer,
                rtp_socket: Some(ports),
                local_rtp,
                media: None,
                muted: false,
                local_hold: false,
                remote_hold: false,
                offer_pending: false,
                offer_in_200: false,
                answered_at: None,
                refer_source: None,
                transferring: false,
                remote_uri: caller.uri.clone().unwrap_or_default(),
            },
        );
        self.emit(PhoneEvent::IncomingCall {
            call: call_id.clone(),
            account: account.config.id.clone(),
            caller,
            auto_answer_in_ms: auto_answer.map(|d| d.as_millis() as u64),
            waiting,
            replaces: replaced.clone(),
        });
        if let Some(old) = replaced {
            // Answer first, then end the replaced call (RFC 3891 section 3).
            if let Err(e) = self.answer(&call_id) {
                warn!(error = %e, "could not answer a replacing call");
            }
            if let Some(c) = self.calls.get(&old) {
                let dialog = c.dialog.clone();
                let state = c.state;
                tokio::spawn(async move {
                    let r = match state {
                        CallState::Established => dialog.bye().await,
                        CallState::Dialing => dialog.cancel().await,
                        CallState::Ringing => dialog.reject(Some(StatusCode::Decline), None),
                    };
                    if let Err(e) = r {
                        warn!(error = %e, "could not end the replaced call");
                    }
                });
            }
            return;
        }
        if let Some(delay) = auto_answer {
            let internal = self.internal.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = internal.send(Internal::AutoAnswer { call: call_id });
            });
        }
    }
}

async fn end_call_signalling(call: &Call) {
    let r = match call.state {
        CallState::Dialing => call.dialog.cancel().await,
        CallState::Ringing => call
            .dialog
            .reject(Some(StatusCode::TemporarilyUnavailable), None),
        CallState::Established => call.dialog.bye().await,
    };
    if let Err(e) = r {
        debug!(error = %e, "ending a call at shutdown");
    }
}

async fn registration_loop(
    endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    account: Arc<Account>,
    keepalive: Duration,
    events: mpsc::UnboundedSender<PhoneEvent>,
    cancel: CancellationToken,
    reregister: Arc<tokio::sync::Notify>,
) {
    let emit = |state: RegistrationState| {
        let _ = events.send(PhoneEvent::Registration {
            account: account.config.id.clone(),
            state,
        });
    };
    let mut registration = Registration::new(endpoint, Some(account.credential.clone()));
    registration.outbound_proxy = account.outbound_proxy;
    let mut failures: u32 = 0;
    let mut ever_registered = false;
    emit(RegistrationState::Registering);
    let endpoint = registration.endpoint.clone();
    // The phone's end of the TCP/TLS connection the Contact names (a new connection after a
    // break gets a new port, and the Contact follows it).
    let mut flow_end: Option<SipAddr> = None;
    'registering: loop {
        let attempt = async {
            let local =
                crate::keepalive::open_flow(&endpoint, &account.registrar, account.outbound_proxy)
                    .await
                    .map_err(|e| e.to_string())?;
            if let Some(local) = local {
                if flow_end.as_ref() != Some(&local) {
                    let uri =
                        flow_contact_uri(&account.config, &local).map_err(|e| e.to_string())?;
                    registration.contact = Some(rsipstack::sip::typed::Contact {
                        display_name: None,
                        uri,
                        params: vec![],
                    });
                    // Learn the address the registrar sees for this connection afresh (rsipstack
                    // moves the Contact there from the challenge's Via received/rport).
                    registration.public_address = None;
                    flow_end = Some(local);
                }
            }
            let response = registration
                .register(account.registrar.clone(), Some(account.config.expires))
                .await
                .map_err(|e| e.to_string())?;
            if flow_end.is_some() && response.status_code.kind() == StatusCodeKind::Successful {
                account.set_flow_contact(registration.contact.as_ref().map(|c| c.uri.clone()));
            }
            Ok::<_, String>(response)
        };
        let result = tokio::select! {
            r = attempt => r,
            _ = cancel.cancelled() => break,
        };
        let wait = match result {
            Ok(resp) if resp.status_code.kind() == StatusCodeKind::Successful => {
                failures = 0;
                ever_registered = true;
                let granted = registration.expires().max(1);
                emit(RegistrationState::Registered {
                    expires: granted,
                    public_address: registration
                        .discovered_public_address()
                        .map(|a| a.to_string()),
                });
                refresh_interval(granted)
            }
            Ok(resp) => {
                failures += 1;
                let wait = backoff_interval(failures - 1);
                emit(RegistrationState::Failed {
                    code: Some(u16::from(resp.status_code.clone())),
                    reason: resp.status_code.to_string(),
                    retry_in_ms: wait.as_millis() as u64,
                });
                wait
            }
            Err(e) => {
                failures += 1;
                let wait = backoff_interval(failures - 1);
                emit(RegistrationState::Failed {
                    code: None,
                    reason: crate::tls::explain(&e),
                    retry_in_ms: wait.as_millis() as u64,
                });
                wait
            }
        };
        let registered = failures == 0;
        let until = tokio::time::Instant::now() + wait;
        // Between refreshes, keep-alive pings check the flow; one without an answer
        // re-registers now instead of at the next refresh.
        let ping_every = (registered && !keepalive.is_zero()).then_some(keepalive);
        loop {
            let next = match ping_every {
                Some(every) => (tokio::time::Instant::now() + every).min(until),
                None => until,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = reregister.notified() => {
                    failures = 0;
                    emit(RegistrationState::Registering);
                    break;
                }
                _ = cancel.cancelled() => break 'registering,
            }
            if tokio::time::Instant::now() >= until {
                break;
            }
            let ping = crate::keepalive::options_ping(
                &endpoint,
                &account.registrar,
                account.outbound_proxy,
                &account.config.user,
            );
            let result = tokio::select! {
                r = ping => r,
                _ = cancel.cancelled() => break 'registering,
            };
            match result {
                Ok(status) => debug!(account = %account.config.id, %status, "keep-alive answered"),
                Err(e) => {
                    warn!(account = %account.config.id, error = %e, "keep-alive failed; re-registering");
                    emit(RegistrationState::Failed {
                        code: None,
                        reason: format!("keep-alive failed: {e}"),
                        retry_in_ms: 0,
                    });
                    break;
                }
            }
        }
    }
    // Un-register on exit so the PBX stops sending calls to a closed phone (only if a binding
    // exists: an unreachable registrar must not delay the exit).
    if ever_registered {
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            registration.register(account.registrar.clone(), Some(0)),
        )
        .await;
    }
    emit(RegistrationState::Unregistered);
}

/// Samples the route towards the registrar and the clocks (`netwatch`); on a change tells the
/// front end and wakes every registration loop to register again now. An address change also
/// goes to the core, which may move the sockets and Contacts to the new address.
async fn watch_network(
    target: SocketAddr,
    events: mpsc::UnboundedSender<PhoneEvent>,
    internal: mpsc::UnboundedSender<Internal>,
    notifies: Vec<Arc<tokio::sync::Notify>>,
    cancel: CancellationToken,
) {
    use crate::netwatch::{NetWatch, JUMP_THRESHOLD, POLL_INTERVAL};
    let mut watch = NetWatch::new(local_ip_towards(target).ok(), POLL_INTERVAL, JUMP_THRESHOLD);
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = cancel.cancelled() => return,
        }
        // A connected UDP socket asks the routing table; no packet is sent.
        let address = local_ip_towards(target).ok();
        let change = watch.observe(Instant::now(), std::time::SystemTime::now(), address);
        if let Some(change) = change {
            info!(%change, "network change: re-registering");
            let _ = events.send(PhoneEvent::NetworkChanged {
                reason: change.to_string(),
            });
            for n in &notifies {
                n.notify_one();
            }
            if let crate::netwatch::NetChange::AddressChanged { to, .. } = change {
                let _ = internal.send(Internal::AddressChanged { to });
            }
        }
    }
}

/// A dial string to a SIP URI: `1002` → `sip:1002@domain`, `bob@host` → `sip:bob@host`.
/// Where an account's INVITEs go: its outbound proxy, or for TLS its registrar by name (the
/// callee's URI names no transport; by name so the certificate is checked against the
/// domain); else wherever the Request-URI leads.
fn invite_destination(account: &Account) -> Option<SipAddr> {
    let transport = match account.config.transport {
        SipTransport::Udp => rsipstack::sip::Transport::Udp,
        SipTransport::Tcp => rsipstack::sip::Transport::Tcp,
        SipTransport::Tls => rsipstack::sip::Transport::Tls,
    };
    match account.outbound_proxy {
        Some(p) => Some(SipAddr::new(
            transport,
            rsipstack::sip::HostWithPort::from(p),
        )),
        None if account.config.transport == SipTransport::Tls => Some(SipAddr::new(
            transport,
            account.registrar.host_with_port.clone(),
        )),
        None => None,
    }
}

pub fn target_uri(target: &str, domain: &str) -> Result<String, PhoneError> {
    let t = target.trim();
    if t.is_empty() {
        return Err(PhoneError::Config("empty dial string".into()));
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("sip:") || lower.starts_with("sips:") || lower.starts_with("tel:") {
        return Ok(t.to_string());
    }
    // Dial strings from agents carry spaces and dashes: "138 0013 8000", "010-1234-5678".
    let cleaned: String = if t.contains('@') {
        t.to_string()
    } else {
        t.chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect()
    };
    if cleaned.contains('@') {
        Ok(format!("sip:{cleaned}"))
    } else if cleaned
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '#' | '_'))
    {
        Ok(format!("sip:{cleaned}@{domain}"))
    } else {
        Err(PhoneError::Config(format!("cannot dial {target:?}")))
    }
}

fn strip_uri_params(uri: &str) -> String {
    uri.split(['?']).next().unwrap_or(uri).to_string()
}

/// Escapes a header value for a URI's `?name=value` part (RFC 3261 section 19.1.1).
fn uri_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/:+$".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether an in-dialog request reached a dialog that still waits for its ACK and is one that
/// rsipstack would mishandle there (see `Core::park_until_ack`). ACK, BYE, CANCEL and PRACK are
/// handled correctly in that state.
fn before_ack(dialog: &Dialog, method: &Method) -> bool {
    dialog.state().waiting_ack()
        && !matches!(
            method,
            Method::Ack | Method::Bye | Method::Cancel | Method::PRack
        )
}

fn session_id() -> u64 {
    // Any unique number works (RFC 4566 suggests an NTP timestamp).
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .wrapping_add(u64::from(rand::random::<u16>()))
}

fn new_call_id(ip: &IpAddr) -> String {
    format!("{:032x}@{}", rand::random::<u128>(), ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_strings() {
        assert_eq!(
            target_uri("1002", "pbx.local").unwrap(),
            "sip:1002@pbx.local"
        );
        assert_eq!(
            target_uri("138 0013-8000", "pbx").unwrap(),
            "sip:13800138000@pbx"
        );
        assert_eq!(target_uri("+8610123", "pbx").unwrap(), "sip:+8610123@pbx");
        assert_eq!(
            target_uri("bob@10.0.0.2:5070", "pbx").unwrap(),
            "sip:bob@10.0.0.2:5070"
        );
        assert_eq!(target_uri("sips:a@b", "pbx").unwrap(), "sips:a@b");
        assert!(target_uri("  ", "pbx").is_err());
        assert!(target_uri("a;b<c>", "pbx").is_err());
    }

    #[test]
    fn replaces_escaping_round_trips() {
        let r = "abc@1.2.3.4;to-tag=x;from-tag=y";
        let e = uri_escape(r);
        assert!(!e.contains(';') && !e.contains('='));
        assert_eq!(percent_decode(&e), r);
    }

    #[test]
    fn host_port_resolution() {
        assert_eq!(
            resolve_host_port("127.0.0.1", SipTransport::Udp).unwrap(),
            "127.0.0.1:5060".parse().unwrap()
        );
        assert_eq!(
            resolve_host_port("127.0.0.1:5070", SipTransport::Tcp).unwrap(),
            "127.0.0.1:5070".parse().unwrap()
        );
        assert_eq!(
            resolve_host_port("127.0.0.1", SipTransport::Tls).unwrap(),
            "127.0.0.1:5061".parse().unwrap()
        );
        assert!(resolve_host_port("no-such-host.invalid", SipTransport::Udp).is_err());
    }
}
