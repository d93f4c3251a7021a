//! Live change notifications for long polls: a per-tenant `watch` of the latest work-order
//! `change_seq`. Within one process a push publishes after its commit; across instances sharing
//! a PostgreSQL, every push also sends `NOTIFY` inside its committing transaction and each
//! instance forwards what its `LISTEN` connection (a dedicated `PgListener`) receives. Waiters
//! always re-read the database, so a notification only says "look again": lost ones cost at most
//! the periodic re-check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::{watch, OnceCell};

/// The PostgreSQL channel carrying `"<tenant_id> <change_seq>"` payloads.
pub const PG_CHANNEL: &str = "seatline_order_changes";

/// Fan-out of order changes to waiting long polls.
pub struct ChangeHub {
    tenants: Mutex<HashMap<String, watch::Sender<i64>>>,
    pg_url: Option<String>,
    listening: OnceCell<()>,
    closed: AtomicBool,
}

impl ChangeHub {
    /// A hub; with a PostgreSQL URL it will `LISTEN` (lazily, on the first wait).
    pub fn new(pg_url: Option<&str>) -> Arc<ChangeHub> {
        Arc::new(ChangeHub {
            tenants: Mutex::new(HashMap::new()),
            pg_url: pg_url.map(str::to_owned),
            listening: OnceCell::new(),
            closed: AtomicBool::new(false),
        })
    }

    fn sender(&self, tenant_id: &str) -> watch::Sender<i64> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants
            .entry(tenant_id.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .clone()
    }

    /// Record that `tenant_id`'s orders reached `seq` and wake its waiters.
    pub fn publish(&self, tenant_id: &str, seq: i64) {
        self.sender(tenant_id).send_if_modified(|current| {
            if seq > *current {
                *current = seq;
                true
            } else {
                false
            }
        });
    }

    /// Wake every waiter so it re-reads the database (notifications may have been lost, or
    /// the server is stopping).
    pub fn poke_all(&self) {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        for sender in tenants.values() {
            sender.send_modify(|_| {});
        }
    }

    /// A receiver that changes whenever `tenant_id` may have new orders.
    pub fn subscribe(&self, tenant_id: &str) -> watch::Receiver<i64> {
        self.sender(tenant_id).subscribe()
    }

    /// Stop: waiting long polls return at once (used on graceful shutdown).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.poke_all();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Make sure cross-instance notifications arrive: on PostgreSQL, start the `LISTEN` task
    /// once. Returns false when notifications cannot be relied on (waiters then poll more
    /// often); true on SQLite, where every writer is in this process.
    pub async fn ensure_listening(self: &Arc<Self>) -> bool {
        let Some(url) = self.pg_url.clone() else {
            return true;
        };
        let hub = Arc::downgrade(self);
        let started = self
            .listening
            .get_or_try_init(|| async move {
                let mut listener = PgListener::connect(&url).await?;
                listener.listen(PG_CHANNEL).await?;
                tokio::spawn(listen_loop(hub, listener));
                Ok::<(), sqlx::Error>(())
            })
            .await;
        match started {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for order changes; long polls will poll");
                false
            }
        }
    }
}

/// Parse a `"<tenant_id> <change_seq>"` payload.
pub fn parse_payload(payload: &str) -> Option<(&str, i64)> {
    let (tenant, seq) = payload.rsplit_once(' ')?;
    Some((tenant, seq.parse().ok()?))
}

async fn listen_loop(hub: Weak<ChangeHub>, mut listener: PgListener) {
    loop {
        let received = listener.try_recv().await;
        let Some(hub) = hub.upgrade() else {
            return;
        };
        match received {
            Ok(Some(notification)) => match parse_payload(notification.payload()) {
                Some((tenant, seq)) => hub.publish(tenant, seq),
                None => tracing::warn!(payload = notification.payload(), "bad order notification"),
            },
            // The connection was lost (and is re-established): notifications may be missing.
            Ok(None) => hub.poke_all(),
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; retrying");
                hub.poke_all();
                drop(hub);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(parse_payload("t-1 42"), Some(("t-1", 42)));
        assert_eq!(parse_payload("t-1"), None);
        assert_eq!(parse_payload("t-1 x"), None);
    }

    #[tokio::test]
    async fn publish_wakes_subscribers_only_forward() {
        let hub = ChangeHub::new(None);
        let mut rx = hub.subscribe("t");
        hub.publish("t", 3);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 3);
        hub.publish("t", 2);
        assert!(!rx.has_changed().unwrap());
        hub.publish("other", 9);
        assert!(!rx.has_changed().unwrap());
        hub.close();
        assert!(hub.is_closed() && rx.has_changed().unwrap());
        assert!(hub.ensure_listening().await);
    }
}
