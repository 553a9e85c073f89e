//! Waking readers when events are appended: NOTIFY when it works, polling always.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::append::NOTIFY_CHANNEL;
use crate::error::StoreError;
use crate::read::{read_all, ReadAllFilter};
use crate::types::{Checkpoint, RecordedEvent};

/// A dedicated LISTEN connection that wakes its (single) waiter on every notification. A
/// notification that arrives while nobody waits is kept as one permit, so the next wait
/// returns at once. If the connection is lost, waits still end on their poll interval, so
/// nothing depends on NOTIFY arriving; [`ChangeListener::is_alive`] tells when to reconnect.
pub struct ChangeListener {
    notify: Arc<Notify>,
    task: JoinHandle<()>,
}

impl ChangeListener {
    /// Opens a connection on `database_url` and LISTENs on the events channel.
    pub async fn listen(database_url: &str) -> Result<ChangeListener, StoreError> {
        let mut config: tokio_postgres::Config = database_url.parse()?;
        config.application_name("payledger-listener");
        config.connect_timeout(LISTEN_CONNECT_TIMEOUT);
        let (client, mut connection) = config.connect(NoTls).await?;
        let notify = Arc::new(Notify::new());
        let waker = notify.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            let mut ready_tx = Some(ready_tx);
            let listen_sql = format!("LISTEN {NOTIFY_CHANNEL}");
            let listen = client.batch_execute(&listen_sql);
            tokio::pin!(listen);
            // Drive the connection while LISTEN runs, then keep forwarding notifications.
            loop {
                tokio::select! {
                    result = &mut listen, if ready_tx.is_some() => {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(result.map_err(StoreError::from));
                        }
                    }
                    message = messages.next() => match message {
                        Some(Ok(AsyncMessage::Notification(_))) => waker.notify_one(),
                        Some(Ok(_)) => {}
                        Some(Err(err)) => {
                            tracing::warn!(error = %err, "event listener connection lost; falling back to polling");
                            break;
                        }
                        None => break,
                    }
                }
            }
        });
        match ready_rx.await {
            Ok(Ok(())) => Ok(ChangeListener { notify, task }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(StoreError::Corrupt("listener connection closed before LISTEN".into())),
        }
    }

    /// Waits for a notification (also one that arrived since the last wait) or
    /// `poll_interval`, whichever comes first.
    pub async fn wait(&self, poll_interval: Duration) {
        let _ = tokio::time::timeout(poll_interval, self.notify.notified()).await;
    }

    /// Waits for a notification (also one that arrived since the last wait), however long.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Whether the LISTEN connection still runs (else waits end only on the poll interval).
    pub fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }
}

const LISTEN_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Tails the event log from a checkpoint, in the gap-free read order. Catch-up and live
/// tailing are the same loop: read a batch; if empty, wait for NOTIFY or the poll interval.
pub struct Subscription {
    pool: Pool,
    listener: ChangeListener,
    checkpoint: Checkpoint,
    filter: ReadAllFilter,
    batch_size: i64,
    poll_interval: Duration,
}

impl Subscription {
    pub async fn start(
        pool: Pool,
        database_url: &str,
        from: Checkpoint,
        batch_size: i64,
        poll_interval: Duration,
    ) -> Result<Subscription, StoreError> {
        let listener = ChangeListener::listen(database_url).await?;
        Ok(Subscription {
            pool,
            listener,
            checkpoint: from,
            filter: ReadAllFilter::default(),
            batch_size,
            poll_interval,
        })
    }

    /// The checkpoint after the last event returned.
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint
    }

    /// The next non-empty batch; waits as long as there is nothing new.
    pub async fn next_batch(&mut self) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut held_back_wait = HELD_BACK_FIRST_WAIT;
        loop {
            // A NOTIFY during the read is kept as a permit, so the wait below returns at once.
            let (batch, held_back) = {
                let client = self.pool.get().await?;
                let batch = read_all(&**client, self.checkpoint, &self.filter, self.batch_size).await?;
                let held_back = batch.is_empty() && has_events_after(&**client, self.checkpoint).await?;
                (batch, held_back)
            };
            if let Some(last) = batch.last() {
                self.checkpoint = last.checkpoint();
                return Ok(batch);
            }
            if held_back {
                // Committed events wait behind an older running transaction (of any database:
                // the snapshot xmin is cluster-wide). Its end sends no NOTIFY, so look again soon.
                tokio::time::sleep(held_back_wait.min(self.poll_interval)).await;
                held_back_wait = (held_back_wait * 2).min(HELD_BACK_MAX_WAIT);
                continue;
            }
            held_back_wait = HELD_BACK_FIRST_WAIT;
            self.listener.wait(self.poll_interval).await;
        }
    }
}

const HELD_BACK_FIRST_WAIT: Duration = Duration::from_millis(2);
const HELD_BACK_MAX_WAIT: Duration = Duration::from_millis(100);

/// Whether any event, safe to read yet or not, lies after `checkpoint`.
pub async fn has_events_after<C: tokio_postgres::GenericClient>(
    client: &C,
    checkpoint: Checkpoint,
) -> Result<bool, StoreError> {
    let tx_text = checkpoint.tx_id.to_string();
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM events WHERE (tx_id, global_position) > ($1::text::xid8, $2))",
            &[&tx_text, &checkpoint.position],
        )
        .await?;
    Ok(row.try_get(0)?)
}
