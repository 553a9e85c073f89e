//! The rebuild's read of the log: a task on its own connection reads the next batch while
//! the previous one is folded and written, so that reading and writing overlap. At most
//! [`READ_AHEAD_BATCHES`] batches wait in the channel: memory stays bounded.
//!
//! Only the columns a fold needs are read (no metadata, dedupe key or hashes): the rest is
//! transfer and JSON parsing nobody uses. The read is the store's gap-free one: an event is
//! returned only once no transaction that could commit before it in the read order runs.

use std::time::Duration;

use payledger_store::{Checkpoint, RecordedEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use crate::error::ProjectorError;
use crate::registry::parse_tx_id;

/// Batches read but not yet applied.
const READ_AHEAD_BATCHES: usize = 2;
/// First and longest sleep between reads that found nothing.
const EMPTY_FIRST_WAIT: Duration = Duration::from_millis(2);
const EMPTY_MAX_WAIT: Duration = Duration::from_millis(100);

/// Events read after `after` (none: nothing readable at that moment).
pub(crate) struct ReadBatch {
    pub after: Checkpoint,
    pub events: Vec<RecordedEvent>,
}

/// The reader task; dropping this stops it.
pub(crate) struct ReadAhead {
    batches: mpsc::Receiver<Result<ReadBatch, ProjectorError>>,
    task: JoinHandle<()>,
}

impl ReadAhead {
    /// Starts reading after `from`, `batch_size` events at a time, on `client`.
    pub(crate) fn start(client: Client, from: Checkpoint, batch_size: i64) -> ReadAhead {
        let (sender, batches) = mpsc::channel(READ_AHEAD_BATCHES);
        let task = tokio::spawn(read_loop(client, from, batch_size, sender));
        ReadAhead { batches, task }
    }

    /// The next batch, in read order; an error ends the reader.
    pub(crate) async fn next(&mut self) -> Result<ReadBatch, ProjectorError> {
        match self.batches.recv().await {
            Some(batch) => batch,
            None => Err(ProjectorError::corrupt("the rebuild's reader stopped")),
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_loop(
    client: Client,
    mut after: Checkpoint,
    batch_size: i64,
    sender: mpsc::Sender<Result<ReadBatch, ProjectorError>>,
) {
    let mut wait = EMPTY_FIRST_WAIT;
    loop {
        let events = match read_lean(&client, after, batch_size).await {
            Ok(events) => events,
            Err(err) => {
                let _ = sender.send(Err(err)).await;
                return;
            }
        };
        let next = events.last().map(RecordedEvent::checkpoint).unwrap_or(after);
        let empty = events.is_empty();
        if sender.send(Ok(ReadBatch { after, events })).await.is_err() {
            return;
        }
        after = next;
        if empty {
            // Held back or at the head: look again soon, not in a tight loop.
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(EMPTY_MAX_WAIT);
        } else {
            wait = EMPTY_FIRST_WAIT;
        }
    }
}

/// `read_all` without a filter, with only the columns the projector uses; the others are
/// left empty.
pub(crate) async fn read_lean(
    client: &Client,
    after: Checkpoint,
    limit: i64,
) -> Result<Vec<RecordedEvent>, ProjectorError> {
    // `events.tx_id`, qualified: a bare `tx_id` would name the text output column.
    let rows = client
        .query(
            "SELECT global_position, tx_id::text, event_id, tenant_id, stream_id, stream_version, event_type,
                    schema_version, payload, recorded_at
             FROM events
             WHERE (tx_id, global_position) > ($1::text::xid8, $2)
               AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY events.tx_id, events.global_position
             LIMIT $3",
            &[&after.tx_id.to_string(), &after.position, &limit.max(1)],
        )
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    let mut previous = after;
    for row in &rows {
        let event = RecordedEvent {
            global_position: row.try_get(0)?,
            tx_id: parse_tx_id(row.try_get(1)?)?,
            event_id: row.try_get(2)?,
            tenant_id: row.try_get(3)?,
            stream_id: row.try_get(4)?,
            stream_version: row.try_get(5)?,
            event_type: row.try_get(6)?,
            schema_version: row.try_get(7)?,
            payload: row.try_get(8)?,
            metadata: serde_json::Value::Null,
            recorded_at: row.try_get(9)?,
            dedupe_key: None,
            prev_hash: Vec::new(),
            hash: Vec::new(),
        };
        // What every reader relies on: strictly after `after`, in read order.
        if event.checkpoint() <= previous {
            return Err(ProjectorError::corrupt(format!(
                "read order broken: {:?} returned after {previous:?}",
                event.checkpoint()
            )));
        }
        previous = event.checkpoint();
        events.push(event);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_store::{read_all, ReadAllFilter};
    use payledger_testkit::workload::Workload;

    /// The lean read returns what the store's reader returns, in the same batches, for every
    /// field the projector uses; and the reader task hands them over in read order.
    #[tokio::test]
    async fn the_lean_read_is_the_store_read_without_the_unused_columns() {
        let db = payledger_testkit::TestDb::new().await;
        let pool = db.pool(4);
        Workload::new(71, 2).run(&pool, 120).await;
        let client = db.connect().await;
        let total: i64 = client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
        // Other tests' transactions on the cluster may hold events back for a moment (the
        // snapshot xmin is cluster-wide): an empty read then means "later", not "the end".
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let (mut after, mut batches, mut read) = (Checkpoint::START, 0, 0);
        while read < total {
            assert!(std::time::Instant::now() < deadline, "the history stayed held back");
            let lean = read_lean(&client, after, 17).await.unwrap();
            let Some(last) = lean.last() else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            // The snapshot xmin only moves forward: the store's read sees at least as much.
            let full = read_all(&client, after, &ReadAllFilter::default(), lean.len() as i64).await.unwrap();
            assert_eq!(lean.len(), full.len());
            for (l, f) in lean.iter().zip(&full) {
                let used = |e: &RecordedEvent| {
                    (e.checkpoint(), e.event_id, e.tenant_id, e.stream_id.clone(), e.stream_version)
                };
                assert_eq!(used(l), used(f));
                assert_eq!(
                    (&l.event_type, l.schema_version, &l.payload),
                    (&f.event_type, f.schema_version, &f.payload)
                );
                assert_eq!(l.recorded_at, f.recorded_at);
            }
            after = last.checkpoint();
            read += lean.len() as i64;
            batches += 1;
        }
        assert!(batches > 3, "the history spans several batches");

        let mut reader = ReadAhead::start(db.connect().await, Checkpoint::START, 17);
        let (mut after, mut seen) = (Checkpoint::START, 0);
        while seen < total {
            assert!(std::time::Instant::now() < deadline, "the reader stayed behind");
            let batch = reader.next().await.unwrap();
            assert_eq!(batch.after, after, "each batch starts where the one before ended");
            if let Some(last) = batch.events.last() {
                after = last.checkpoint();
                seen += batch.events.len() as i64;
            }
        }
        assert_eq!(seen, total);
    }
}
