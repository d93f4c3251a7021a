//! Keep-alives on a registered flow: an out-of-dialog OPTIONS to the registrar (or the outbound
//! proxy) on the same transport and connection the REGISTER used. Any response proves the flow
//! (and a NAT binding on it) is alive; no response within [`PING_TIMEOUT`] means it broke and
//! the registration loop re-registers at once.
//!
//! Why OPTIONS on TCP too, not only the RFC 5626 double-CRLF ping: rsipstack 0.7.14 answers a
//! CRLF ping it receives but swallows the pong of one we send (`transport/stream.rs`,
//! `SipCodecType::KeepaliveResponse => {}`) and exposes no hook to observe it, so a CRLF ping
//! could only detect a connection that fails to write, not a silent peer.

use rsipstack::sip::SipMessage;
use rsipstack::sip::{Method, StatusCode};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transaction::{make_call_id, make_tag};
use rsipstack::transport::SipAddr;
use std::net::SocketAddr;
use std::time::Duration;

/// How long a ping waits for any response: covers three UDP retransmissions (0.5, 1.5, 3.5 s).
pub const PING_TIMEOUT: Duration = Duration::from_secs(4);

/// Why a keep-alive failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum KeepAliveError {
    #[error("no response to the keep-alive OPTIONS within {0:?}")]
    Timeout(Duration),
    #[error("keep-alive OPTIONS could not be sent: {0}")]
    Send(String),
    #[error("cannot open the connection to the server: {0}")]
    Connect(String),
    #[error("the keep-alive OPTIONS transaction ended without a response")]
    NoResponse,
}

/// Opens (or finds) the connection requests to `server` take, for TCP and TLS. rsipstack
/// 0.7.14's client transaction treats a failed connection as non-fatal (`Transaction::send`:
/// "Failed lookups stay non-fatal") and only times out after 32 s, so a refused TLS
/// certificate would show as a timeout; looking the flow up first reports the real cause at once,
/// and the request then reuses the connection. Returns the connection's local address (the
/// phone's end of the flow) for TCP and TLS; UDP needs nothing and gets `None`.
pub async fn open_flow(
    endpoint: &EndpointInnerRef,
    server: &rsipstack::sip::Uri,
    outbound_proxy: Option<SocketAddr>,
) -> Result<Option<SipAddr>, KeepAliveError> {
    let Some(target) = flow_target(server, outbound_proxy) else {
        return Ok(None);
    };
    if !matches!(
        target.r#type,
        Some(rsipstack::sip::Transport::Tcp | rsipstack::sip::Transport::Tls)
    ) {
        return Ok(None);
    }
    let (connection, _) = endpoint
        .transport_layer
        .lookup(&target, None)
        .await
        .map_err(|e| KeepAliveError::Connect(e.to_string()))?;
    Ok(Some(connection.get_addr().clone()))
}

fn flow_target(
    server: &rsipstack::sip::Uri,
    outbound_proxy: Option<SocketAddr>,
) -> Option<SipAddr> {
    match outbound_proxy {
        Some(p) => Some(SipAddr::new(
            server_transport(server),
            rsipstack::sip::HostWithPort::from(p),
        )),
        None => SipAddr::try_from(server).ok(),
    }
}

/// Sends one OPTIONS to `server` (through `outbound_proxy` when set) and returns the status of
/// the first final response.
pub async fn options_ping(
    endpoint: &EndpointInnerRef,
    server: &rsipstack::sip::Uri,
    outbound_proxy: Option<SocketAddr>,
    user: &str,
) -> Result<StatusCode, KeepAliveError> {
    let target = flow_target(server, outbound_proxy);
    // The Via (and the connection) the REGISTER used: lookup reuses the TCP/TLS connection.
    let via = match &target {
        Some(t) => match endpoint.transport_layer.lookup(t, None).await {
            Ok((connection, _)) => endpoint.get_via(Some(connection.get_addr().clone()), None),
            Err(e) => return Err(KeepAliveError::Send(e.to_string())),
        },
        None => endpoint.get_via(None, None),
    }
    .map_err(|e| KeepAliveError::Send(e.to_string()))?;
    let mut aor = server.clone();
    aor.auth = Some(rsipstack::sip::Auth {
        user: user.to_string(),
        password: None,
    });
    let from = rsipstack::sip::typed::From {
        display_name: None,
        uri: aor.clone(),
        params: vec![],
    }
    .with_tag(make_tag());
    let to = rsipstack::sip::typed::To {
        display_name: None,
        uri: server.clone(),
        params: vec![],
    };
    let call_id = make_call_id(None, Default::default());
    let request = endpoint.make_request(
        Method::Options,
        server.clone(),
        via,
        from,
        to,
        1,
        Some(call_id),
    );
    let key = TransactionKey::from_request(&request, TransactionRole::Client)
        .map_err(|e| KeepAliveError::Send(e.to_string()))?;
    let mut tx = Transaction::new_client(key, request, endpoint.clone(), None);
    if outbound_proxy.is_some() {
        tx.destination = target;
    }
    let exchange = async {
        tx.send()
            .await
            .map_err(|e| KeepAliveError::Send(e.to_string()))?;
        while let Some(msg) = tx.receive().await {
            if let SipMessage::Response(resp) = msg {
                if resp.status_code.kind() != rsipstack::sip::StatusCodeKind::Provisional {
                    return Ok(resp.status_code);
                }
            }
        }
        Err(KeepAliveError::NoResponse)
    };
    tokio::time::timeout(PING_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(KeepAliveError::Timeout(PING_TIMEOUT)))
}

fn server_transport(server: &rsipstack::sip::Uri) -> rsipstack::sip::Transport {
    SipAddr::try_from(server)
        .ok()
        .and_then(|a| a.r#type)
        .unwrap_or(rsipstack::sip::Transport::Udp)
}
