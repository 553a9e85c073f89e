//! Appending admin actions ([`AdminEvent`]) in the transaction that makes them, with who
//! made them.

use payledger_core::admin::{AdminEvent, ADMIN_SCHEMA_VERSION};
use payledger_store::{append_in_tx, BatchItem, ExpectedVersion, NewEvent, Queries, StreamKey};
use serde_json::json;
use uuid::Uuid;

use crate::error::ServiceResult;

/// Who made an admin action: an operator at the CLI, or an admin API key (with its request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    name: String,
    source: &'static str,
    request_id: Option<String>,
}

impl Actor {
    pub fn cli() -> Actor {
        Actor { name: "cli".to_owned(), source: "cli", request_id: None }
    }

    pub fn api_key(key_id: Uuid, request_id: Option<String>) -> Actor {
        Actor { name: format!("api_key:{key_id}"), source: "api", request_id }
    }

    /// The ledger itself (development set-up, tests).
    pub fn oauth_client(client_id: Uuid, request_id: Option<String>) -> Actor {
        Actor { name: format!("oauth_client:{client_id}"), source: "api", request_id }
    }

    pub fn system(what: &str) -> Actor {
        Actor { name: format!("system:{what}"), source: "system", request_id: None }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Appends `events` of `tenant_id` in `tx`; each goes to its own thing's stream.
pub async fn append_admin_events<C: Queries>(
    tx: &C,
    tenant_id: Uuid,
    actor: &Actor,
    events: &[AdminEvent],
) -> ServiceResult<()> {
    let metadata = json!({
        "source": actor.source,
        "actor": actor.name,
        "request_id": actor.request_id,
        "correlation_id": actor.request_id,
    });
    // One item per stream (an append names each stream once), events in their order.
    let mut items: Vec<BatchItem> = Vec::new();
    for event in events {
        let stream = StreamKey::new(tenant_id, event.stream_id());
        let new =
            NewEvent::new(event.event_type(), ADMIN_SCHEMA_VERSION, event.to_payload()).with_metadata(metadata.clone());
        match items.iter_mut().find(|item| item.stream == stream) {
            Some(item) => item.events.push(new),
            None => items.push(BatchItem { stream, expected: ExpectedVersion::Any, events: vec![new] }),
        }
    }
    if !items.is_empty() {
        append_in_tx(tx, &items).await?;
    }
    Ok(())
}
