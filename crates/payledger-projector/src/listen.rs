//! Wake-ups on `NOTIFY payledger_events`, for the projector alone. A notification that
//! arrives while a batch runs is kept (one permit), so the next wait returns at once; the
//! poll interval covers a lost listener connection.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use payledger_store::NOTIFY_CHANNEL;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::error::ProjectorError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Wakeups {
    notify: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Wakeups {
    pub(crate) async fn listen(database_url: &str) -> Result<Wakeups, ProjectorError> {
        let mut config: tokio_postgres::Config = database_url.parse()?;
        config.application_name("payledger-projector-listener");
        config.connect_timeout(CONNECT_TIMEOUT);
        let (client, mut connection) = config.connect(NoTls).await?;
        let notify = Arc::new(Notify::new());
        let waker = notify.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            let listen_sql = format!("LISTEN {NOTIFY_CHANNEL}");
            let listen = client.batch_execute(&listen_sql);
            tokio::pin!(listen);
            let mut ready_tx = Some(ready_tx);
            loop {
                tokio::select! {
                    result = &mut listen, if ready_tx.is_some() => {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(result);
                        }
                    }
                    message = messages.next() => match message {
                        Some(Ok(AsyncMessage::Notification(_))) => waker.notify_one(),
                        Some(Ok(_)) => {}
                        Some(Err(err)) => {
                            tracing::warn!(error = %err, "projector listener lost; polling only");
                            break;
                        }
                        None => break,
                    }
                }
            }
        });
        match ready_rx.await {
            Ok(Ok(())) => Ok(Wakeups { notify, task }),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => Err(ProjectorError::corrupt("listener connection closed before LISTEN")),
        }
    }

    /// Returns on a notification (also one that arrived since the last wait) or after `poll`.
    pub(crate) async fn wait(&self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.notify.notified()).await;
    }

    pub(crate) fn is_alive(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.task.abort();
    }
}
