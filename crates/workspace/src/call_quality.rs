//! A call's media quality as the call log keeps it: the final figures the phone reports when a
//! call ends (RTCP reports and our own receive statistics; see `seatline_media::quality` for
//! how the MOS is estimated). The shell maps the phone's figures into this, so the workspace
//! needs no SIP or media crate.

use serde::{Deserialize, Serialize};

/// The final quality of one call. Every figure is optional: a call without media has none,
/// and a peer that never sent an RTCP report leaves the remote loss and the RTT unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallQuality {
    /// Estimated MOS, 1-4.5.
    pub mos: Option<f64>,
    /// What we lost of the caller's audio, %.
    pub loss_percent: Option<f64>,
    /// What the caller's side lost of ours, from its last report, %.
    pub remote_loss_percent: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
}

impl CallQuality {
    /// Whether any figure is known (nothing is stored otherwise).
    pub fn is_known(&self) -> bool {
        self.mos.is_some()
            || self.loss_percent.is_some()
            || self.remote_loss_percent.is_some()
            || self.jitter_ms.is_some()
            || self.rtt_ms.is_some()
    }

    /// Reads the columns of a `calls` row; `None` when the call has no quality stored.
    pub(crate) fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Option<Self>, sqlx::Error> {
        use sqlx::Row;
        let q = CallQuality {
            mos: row.try_get("mos")?,
            loss_percent: row.try_get("loss_percent")?,
            remote_loss_percent: row.try_get("remote_loss_percent")?,
            jitter_ms: row.try_get("jitter_ms")?,
            rtt_ms: row.try_get("rtt_ms")?,
        };
        Ok(q.is_known().then_some(q))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::call_log::{CallLog, CallSignal};

    /// A `calls.db` from before quality (and before sync and scores) opens, keeps its call
    /// without quality, and takes the quality of a new call.
    #[tokio::test]
    async fn an_old_call_log_gains_the_quality_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.db");
        crate::call_log::tests::write_pre_sync_call_log(&path).await;
        let log = CallLog::open(&path).await.unwrap();
        let old = log.get("old").await.unwrap().unwrap();
        assert_eq!(old.quality, None);

        log.apply(
            &CallSignal::Dialing {
                call: "new".into(),
                target: "1002".into(),
            },
            10,
        )
        .await
        .unwrap();
        let revisions = |pending: Vec<crate::call_log::PendingCall>| {
            pending
                .into_iter()
                .map(|p| (p.record.id, p.revision))
                .collect::<Vec<_>>()
        };
        let before = revisions(log.unsynced(10).await.unwrap());
        let q = CallQuality {
            mos: Some(4.38),
            loss_percent: Some(0.5),
            remote_loss_percent: None,
            jitter_ms: Some(1.2),
            rtt_ms: Some(35.5),
        };
        log.set_quality("new", &q).await.unwrap();
        let new = log.get("new").await.unwrap().unwrap();
        assert_eq!(new.quality, Some(q.clone()));
        // A change for the server: the call is pending at the next revision.
        let after = revisions(log.unsynced(10).await.unwrap());
        let bumped: Vec<_> = before
            .iter()
            .map(|(id, r)| (id.clone(), if id == "new" { r + 1 } else { *r }))
            .collect();
        assert_eq!(after, bumped);
        // Serialized for the window as a nested object.
        let v = serde_json::to_value(&new).unwrap();
        assert_eq!(v["quality"]["mos"], 4.38);
        assert_eq!(v["quality"]["remote_loss_percent"], serde_json::Value::Null);

        // Opening again (columns present) changes nothing.
        drop(log);
        let log = CallLog::open(&path).await.unwrap();
        assert_eq!(log.get("new").await.unwrap().unwrap().quality, Some(q));
        // A quality with no figure stores as none.
        log.set_quality("new", &CallQuality::default())
            .await
            .unwrap();
        assert_eq!(log.get("new").await.unwrap().unwrap().quality, None);
    }
}
