//! The HTTP calls of the load: commands with an `Idempotency-Key` each, and signed
//! `generic` webhook deliveries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use payledger_gateways::signing::sign_generic_header;
use payledger_gateways::GENERIC_SIGNATURE_HEADER;
use serde_json::{json, Value};

use crate::error::BenchError;

/// Timeout of one request, connection included.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Idle connections kept per host: at least one per worker.
const MAX_IDLE_CONNECTIONS: usize = 1_024;

/// What one request got: the status (`None`: no answer, e.g. connection refused or timed
/// out), the JSON body of a 2xx, and the time to the full answer.
pub(crate) struct Answer {
    pub status: Option<u16>,
    pub body: Value,
    pub latency: Duration,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// A client of one server, as one tenant's writer and one generic endpoint's sender.
#[derive(Clone)]
pub(crate) struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    writer_key: String,
    /// `(url, secret)` of each generic endpoint; the first is the mixed load's.
    webhook_endpoints: Arc<Vec<(String, String)>>,
}

impl ApiClient {
    pub fn new(server: &super::server::Server) -> Result<ApiClient, BenchError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS)
            .build()
            .map_err(|e| BenchError::Setup(format!("HTTP client: {e}")))?;
        Ok(ApiClient {
            http,
            base_url: server.base_url.clone(),
            writer_key: server.writer_key.clone(),
            webhook_endpoints: Arc::new(webhook_endpoints(server)),
        })
    }

    /// POSTs a command as the writer.
    pub async fn command(&self, path: &str, body: &Value, idempotency_key: &str) -> Answer {
        let request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.writer_key)
            .header("Idempotency-Key", idempotency_key)
            .json(body);
        send(request).await
    }

    /// POSTs a webhook body to the first endpoint, signed now.
    pub async fn webhook(&self, body: &[u8]) -> Answer {
        self.webhook_to(0, body).await
    }

    /// Generic endpoints this client can deliver to (at least one).
    pub fn webhook_endpoint_count(&self) -> usize {
        self.webhook_endpoints.len()
    }

    /// POSTs a webhook body to endpoint `index` (modulo their number), signed now.
    pub async fn webhook_to(&self, index: usize, body: &[u8]) -> Answer {
        let now_s = chrono::Utc::now().timestamp();
        let Some((url, secret)) = self.webhook_endpoints.get(index % self.webhook_endpoints.len().max(1)) else {
            return Answer { status: None, body: Value::Null, latency: Duration::ZERO };
        };
        let request = self
            .http
            .post(url)
            .header(GENERIC_SIGNATURE_HEADER, sign_generic_header(secret, now_s, body))
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        send(request).await
    }
}

fn webhook_endpoints(server: &super::server::Server) -> Vec<(String, String)> {
    let url = |id: &uuid::Uuid| format!("{}/v1/webhooks/generic/{id}", server.base_url);
    std::iter::once((url(&server.endpoint_id), server.webhook_secret.clone()))
        .chain(server.other_endpoints.iter().map(|(id, secret)| (url(id), secret.clone())))
        .collect()
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            tracing::debug!(error = %e, "request failed");
            return Answer { status: None, body: Value::Null, latency: started.elapsed() };
        }
    };
    let status = response.status().as_u16();
    let body = match response.bytes().await {
        // A body that is not JSON is kept as its first bytes, so a report can show it.
        Ok(bytes) => serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned())),
        Err(_) => return Answer { status: None, body: Value::Null, latency: started.elapsed() },
    };
    Answer { status: Some(status), body, latency: started.elapsed() }
}

/// What the gateway confirms about a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confirmation {
    Authorized,
    Captured,
}

/// A Stripe-shaped event of the `generic` scheme about the payment `reference`.
pub(crate) fn webhook_body(event_id: &str, reference: &str, amount_minor: i64, confirms: Confirmation) -> Vec<u8> {
    let (event_type, capturable, received, status) = match confirms {
        Confirmation::Authorized => ("payment_intent.amount_capturable_updated", amount_minor, 0, "requires_capture"),
        Confirmation::Captured => ("payment_intent.succeeded", 0, amount_minor, "succeeded"),
    };
    let event = json!({
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": chrono::Utc::now().timestamp(),
        "data": { "object": {
            "id": reference,
            "object": "payment_intent",
            "amount": amount_minor,
            "amount_capturable": capturable,
            "amount_received": received,
            "capture_method": "manual",
            "currency": "usd",
            "status": status,
            "metadata": { "source": "payledger-bench" },
        }},
    });
    event.to_string().into_bytes()
}
