//! What every live stream of a process shares: the wake-ups, the slots, the closing signal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use payledger_store::ChangeListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::error::{ApiCode, ApiError, ApiResult};

/// Limits and pacing of live streams.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Live streams (feeds and job streams) one API key may hold open.
    pub max_per_key: usize,
    /// Live streams this process serves at once.
    pub max_per_process: usize,
    /// Events buffered per feed between the database and the client.
    pub buffer_events: usize,
    /// A feed whose client takes nothing from its full buffer for this long is cut off
    /// with `consumer_too_slow`.
    pub slow_consumer_ms: u64,
    /// Heartbeat comments, so proxies keep the connection open.
    pub heartbeat_ms: u64,
    /// A feed reads the log this often even without a NOTIFY (a lost NOTIFY, or events an
    /// older transaction held back when it was woken).
    pub fallback_poll_ms: u64,
    /// How often a job stream looks at its job.
    pub job_poll_ms: u64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            max_per_key: 8,
            max_per_process: 512,
            buffer_events: 256,
            slow_consumer_ms: 10_000,
            heartbeat_ms: 15_000,
            fallback_poll_ms: 1_000,
            job_poll_ms: 250,
        }
    }
}

/// The process's live streams.
pub struct Live {
    pub config: LiveConfig,
    database_url: Arc<str>,
    wake: watch::Sender<u64>,
    closing: watch::Sender<bool>,
    listener: Mutex<Option<JoinHandle<()>>>,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_key: HashMap<Uuid, usize>,
}

/// Most of a reconnect's wait after the LISTEN connection was lost.
const RELISTEN_WAIT: Duration = Duration::from_secs(2);
/// How often the listener checks that its connection still runs.
const LISTENER_CHECK: Duration = Duration::from_secs(5);

impl Live {
    pub fn new(database_url: Arc<str>, config: LiveConfig) -> Arc<Live> {
        Arc::new(Live {
            config,
            database_url,
            wake: watch::channel(0).0,
            closing: watch::channel(false).0,
            listener: Mutex::new(None),
            open: Mutex::new(Open::default()),
        })
    }

    /// A slot for one more stream of `key_id`, or 429 `too_many_feeds`.
    pub fn admit(self: &Arc<Live>, key_id: Uuid) -> ApiResult<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.config.max_per_process {
            return Err(ApiError::of(ApiCode::TooManyFeeds, "this server serves as many live streams as it may"));
        }
        let of_key = open.per_key.entry(key_id).or_default();
        if *of_key >= self.config.max_per_key {
            return Err(ApiError::of(
                ApiCode::TooManyFeeds,
                format!("this API key holds {} live streams open, the most it may", self.config.max_per_key),
            ));
        }
        *of_key += 1;
        open.total += 1;
        metrics::gauge!("payledger_live_streams").set(open.total as f64);
        Ok(Slot { live: self.clone(), key_id })
    }

    /// Wake-ups after appends (started on first use).
    pub fn wakes(self: &Arc<Live>) -> watch::Receiver<u64> {
        let mut listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        if listener.as_ref().is_none_or(|task| task.is_finished()) {
            *listener = Some(tokio::spawn(listen(self.database_url.clone(), self.wake.clone())));
        }
        self.wake.subscribe()
    }

    /// Turns `true` when the server shuts down: every stream then ends.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn close(&self) {
        self.closing.send_replace(true);
        if let Some(task) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

/// Forwards the LISTEN connection's notifications as wake-ups, reconnecting when it is lost.
async fn listen(database_url: Arc<str>, wake: watch::Sender<u64>) {
    loop {
        match ChangeListener::listen(&database_url).await {
            Ok(listener) => {
                while listener.is_alive() {
                    if tokio::time::timeout(LISTENER_CHECK, listener.notified()).await.is_ok() {
                        wake.send_modify(|n| *n = n.wrapping_add(1));
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "live feeds cannot LISTEN; they poll until it works"),
        }
        tokio::time::sleep(RELISTEN_WAIT).await;
    }
}

/// One open stream; dropping it frees the slot.
pub struct Slot {
    live: Arc<Live>,
    key_id: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.live.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_key.get_mut(&self.key_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_key.remove(&self.key_id);
            }
        }
        metrics::gauge!("payledger_live_streams").set(open.total as f64);
    }
}
