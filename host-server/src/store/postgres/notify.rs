//! Commits announced across servers: the writer sends
//! `NOTIFY solarwire_commits, '<origin> <id>,<id>…'` inside its transaction
//! (PostgreSQL delivers it at commit, never for a rollback); every other
//! server LISTENs, reads those uploads back and hands them to its live
//! streams, so a WebSocket client sees uploads landing on any server.

use std::time::Duration;

use deadpool_postgres::{Pool, Transaction};
use futures_util::StreamExt as _;
use solarwire_core::upload::Sample;
use tokio_postgres::{AsyncMessage, NoTls};

use super::num::RowExt as _;
use super::telemetry;
use crate::store::ingest::CommitSink;
use crate::store::{Committed, StoreError, UploadSummary};

/// The channel commits are announced on.
const CHANNEL: &str = "solarwire_commits";

/// Upload ids per notification (the payload stays far below 8000 bytes).
const IDS_PER_NOTICE: usize = 256;

/// This server's random name in its announcements.
#[derive(Clone)]
pub(super) struct Origin(String);

impl Origin {
    pub(super) fn new() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| StoreError::new(format!("no randomness for the server's name: {e}")))?;
        Ok(Self(hex::encode(bytes)))
    }

    /// Announces committed uploads (delivered when `tx` commits).
    pub(super) async fn announce(
        &self,
        tx: &Transaction<'_>,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(IDS_PER_NOTICE) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let payload = format!("{} {}", self.0, list.join(","));
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                .await?;
        }
        Ok(())
    }
}

/// Listens for other servers' commits and feeds `remote` until the store
/// is dropped; reconnects after a lost connection.
pub(super) async fn listen(url: String, pool: Pool, origin: Origin, remote: CommitSink) {
    loop {
        if let Err(e) = listen_once(&url, &pool, &origin, &remote).await {
            tracing::warn!(error = %e, "commit listener lost its connection; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(
    url: &str,
    pool: &Pool,
    origin: &Origin,
    remote: &CommitSink,
) -> Result<(), StoreError> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let (notices, mut received) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if notices.send(n.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(StoreError::from(e)),
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    while let Some(payload) = received.recv().await {
        let Some(ids) = foreign_ids(&payload, origin) else {
            continue;
        };
        if !(remote.wanted)() {
            continue;
        }
        for committed in read_back(pool, &ids).await? {
            if remote.events.try_send(committed).is_err() {
                tracing::debug!("live queue full: a remote commit was not shown");
            }
        }
    }
    driver
        .await
        .map_err(|e| StoreError::new(format!("listener task failed: {e}")))?
}

/// The upload ids of another server's announcement.
fn foreign_ids(payload: &str, origin: &Origin) -> Option<Vec<i64>> {
    let (from, ids) = payload.split_once(' ')?;
    if from == origin.0 {
        return None;
    }
    Some(ids.split(',').filter_map(|id| id.parse().ok()).collect())
}

/// Uploads as their server's live outputs saw them.
async fn read_back(pool: &Pool, ids: &[i64]) -> Result<Vec<Committed>, StoreError> {
    let client = pool.get().await?;
    let uploads = client
        .query(
            "SELECT id, received_ms, report FROM uploads WHERE id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await?;
    let samples = client
        .query(
            "SELECT s.t_ms, s.upload, s.packet, s.flags, s.registers FROM samples s
             WHERE s.upload = ANY($1) ORDER BY s.upload, s.pos",
            &[&ids],
        )
        .await?;
    let mut out = Vec::with_capacity(uploads.len());
    for u in &uploads {
        let id: i64 = u.try_get(0)?;
        let Ok(summary) = serde_json::from_str::<UploadSummary>(u.try_get(2)?) else {
            continue;
        };
        let mut stored = Vec::new();
        for row in samples.iter().filter(|s| s.get::<_, i64>(1) == id) {
            let s = telemetry::sample(row)?;
            stored.push(Sample {
                t_ms: s.device_time.then_some(s.t_ms),
                registers: s.registers,
                approximate: s.approximate,
                packet: s.packet,
            });
        }
        out.push(Committed {
            received_ms: u.u64(1)?,
            summary,
            samples: stored,
            profile: crate::readings::profile(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_announcements_are_skipped() {
        let me = Origin("aa".into());
        assert_eq!(foreign_ids("aa 1,2", &me), None);
        assert_eq!(foreign_ids("bb 1,2", &me), Some(vec![1, 2]));
        assert_eq!(foreign_ids("junk", &me), None);
    }
}
