#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The app's phone session against a real registrar (Kamailio, SHA-256 digest): the password
//! typed once lands in the keychain store, the account file holds no secret, a reconnect uses
//! the stored password, and disconnecting un-registers.

use seatline_phone_session::{PhoneAccount, PhoneSession, SessionError};
use seatline_secrets::{MemoryStore, SecretName, SecretStore};
use seatline_sip_peers::{DigestAlgorithm, Kamailio, KamailioConfig};
use seatline_sip_phone::{AudioIo, PhoneEvent, RegistrationState, SipTransport};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

fn wait_for(
    rx: &mpsc::Receiver<PhoneEvent>,
    what: &str,
    pred: impl Fn(&PhoneEvent) -> bool,
) -> PhoneEvent {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn registered(e: &PhoneEvent) -> bool {
    matches!(
        e,
        PhoneEvent::Registration {
            state: RegistrationState::Registered { .. },
            ..
        }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_once_then_keychain_then_unregister() {
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Sha256)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let session = PhoneSession::new(dir.path(), secrets.clone(), AudioIo::Null);
    let account = PhoneAccount {
        domain: proxy.addr().to_string(),
        user: "1001".into(),
        auth_user: None,
        display_name: Some("Agent 7".into()),
        transport: SipTransport::Udp,
        outbound_proxy: None,
        auto_answer_ms: None,
        media_encryption: Default::default(),
    };
    let password = proxy.password("1001").unwrap().to_string();

    // A wrong password: the registrar refuses, the phone says so.
    let (tx, rx) = mpsc::channel();
    session
        .connect(account.clone(), Some("wrong".into()), move |e| {
            let _ = tx.send(e);
        })
        .await
        .unwrap();
    let failed = wait_for(&rx, "a refused registration", |e| {
        matches!(
            e,
            PhoneEvent::Registration {
                state: RegistrationState::Failed { .. },
                ..
            }
        )
    });
    if let PhoneEvent::Registration {
        state: RegistrationState::Failed { code, .. },
        ..
    } = failed
    {
        assert!(
            matches!(code, Some(401) | Some(403)),
            "refusal code {code:?}"
        );
    }

    // The right one: registered, stored in the keychain store, not in the account file.
    let (tx, rx) = mpsc::channel();
    session
        .connect(account.clone(), Some(password.clone()), move |e| {
            let _ = tx.send(e);
        })
        .await
        .unwrap();
    wait_for(&rx, "registration", registered);
    let stored = secrets
        .get(&SecretName::sip_password("1001", &account.domain).unwrap())
        .unwrap();
    assert_eq!(
        stored.map(|s| s.expose().to_string()),
        Some(password.clone())
    );
    let file = std::fs::read_to_string(dir.path().join("phone-account.json")).unwrap();
    assert!(
        !file.contains(&password),
        "the account file must not hold the password"
    );
    assert_eq!(session.saved_account().unwrap(), Some(account.clone()));

    // Reconnect from the saved account without typing the password.
    let (tx, rx) = mpsc::channel();
    session
        .connect(session.saved_account().unwrap().unwrap(), None, move |e| {
            let _ = tx.send(e);
        })
        .await
        .unwrap();
    wait_for(&rx, "registration from the stored password", registered);

    session.disconnect().await;
    wait_for(&rx, "un-registration", |e| {
        matches!(
            e,
            PhoneEvent::Registration {
                state: RegistrationState::Unregistered,
                ..
            }
        )
    });
    assert!(matches!(
        session.phone().await,
        Err(SessionError::NotConnected)
    ));

    session.forget().await.unwrap();
    assert_eq!(session.saved_account().unwrap(), None);
    assert!(secrets
        .get(&SecretName::sip_password("1001", &account.domain).unwrap())
        .unwrap()
        .is_none());
}
