//! Webhooks: endpoints and secrets, ingestion, interpretation, retries and reprocessing
//! (DESIGN.md §6).
//!
//! # Receiving: `POST /v1/webhooks/{provider}/{endpoint_id}`
//!
//! 1. From the path and headers alone, before any body byte is read (the API's admission): an
//!    unknown endpoint and an endpoint of another provider are the same 404; a declared
//!    length over the body limit is 413. The body then has `webhook_body_timeout_ms` to
//!    arrive (408 beyond), and the endpoint's share of in-flight work is bounded (503).
//! 2. The endpoint's active secrets are loaded (fresh for every delivery), then the signature
//!    is verified over the exact raw body, in constant time, before anything is recorded. A
//!    bad, stale or missing signature is answered 400/401 with a distinct code
//!    (`signature_header_missing`, `signature_header_malformed`, `signature_mismatch`,
//!    `signature_timestamp_stale`, `no_active_secret`, and `payload_malformed` for an Adyen
//!    body whose items, which carry its signatures, cannot be read); nothing is recorded.
//! 3. The delivery is appended as `WebhookReceived` to a new stream of its own,
//!    `webhook-inbox-{endpoint_id}-{delivery_id}` (see [`inbox`]), one event per provider
//!    event with the provider's event id as dedupe key, together with its
//!    `webhook_deliveries` row, in one transaction; no lock is shared between deliveries,
//!    the unique dedupe index is the guard. A redelivery is answered 2xx and records nothing. A verified body that
//!    cannot be read as notifications (not JSON, a required field missing, a NUL in any
//!    string, which PostgreSQL text cannot hold) is recorded too, as one event named
//!    `sha256:{hex of the body}`, and then ignored with the reason `unparseable: ...`: the
//!    gateway gets its 2xx and stops redelivering, and the evidence is kept exactly.
//! 4. The answer goes out at once: `200 {"received": true, ...}`, or `[accepted]` for Adyen.
//!
//! # Interpreting
//!
//! Right after the answer, and otherwise by the background sweep ([`spawn_processor`]),
//! each delivery is interpreted in one transaction ([`process`]): the notification is
//! re-read from the stored raw body, mapped to a gateway report (`payledger_gateways::report`), and applied to
//! the payment found by `(provider, provider reference)`; the events carry
//! `source: "webhook"`, the provider as actor and the `WebhookReceived` event id as
//! `causation_id`. The payment reconciles reports idempotently and in any order
//! (`payledger_core::payment::GatewayReport`). Unknown event types and unknown payments
//! are recorded as `WebhookIgnored` in the inbox stream, with the reason. A failure rolls
//! back and is retried with exponential backoff up to a maximum of attempts; a delivery
//! acknowledged just before a crash is still pending and the sweep takes it.
//! `payledger webhooks reprocess` redoes any of it from the stored events ([`reprocess`]).
//!
//! # The `generic` scheme, for senders
//!
//! Any gateway or internal service can deliver to a `generic` endpoint. Create the endpoint
//! (`payledger webhooks create --tenant T --provider generic`, or
//! `POST /v1/admin/webhook-endpoints {"provider": "generic"}`, which generates and shows the
//! secret once), then sign each POST like Stripe does, under the header
//! `Payledger-Signature`:
//!
//! ```text
//! t         = current unix time in seconds
//! signature = hex(HMAC-SHA256(key = the secret string's UTF-8 bytes, message = "{t}.{body}"))
//! header    = Payledger-Signature: t={t},v1={signature}
//! ```
//!
//! where `body` is exactly the bytes sent. Deliveries signed more than 300 s away from the
//! server's clock (configurable) are refused as stale. During a rotation, send one `v1=` per
//! secret (`t=...,v1=...,v1=...`). The body is a Stripe-shaped event:
//! `{"id": "<unique event id>", "type": "payment_intent.succeeded", "created": <unix>,
//! "data": {"object": {"id": "<payment's provider_reference>", "amount_received": 2000,
//! "currency": "usd", ...}}}` with Stripe's event type names; `id` is the dedupe key, so a
//! retry must reuse it. In Python:
//!
//! ```text
//! import hmac, hashlib, time, requests
//! body = json.dumps(event).encode()
//! t = str(int(time.time()))
//! sig = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
//! requests.post(url, data=body, headers={"Payledger-Signature": f"t={t},v1={sig}",
//!                                         "Content-Type": "application/json"})
//! ```
//!
//! In Rust, `payledger_gateways::signing::sign_generic_header(secret, t, body)` builds the
//! header. Any 2xx means recorded (or already recorded); retry on anything else.

pub mod endpoints;
pub mod error;
pub mod inbox;
pub mod ingest;
pub mod metrics;
pub mod process;
pub mod processor;
pub mod reprocess;

pub use error::{WebhookError, WebhookResult};
pub use process::{Mode, Outcome, RetryPolicy};
pub use processor::{run_processor, sweep_once, ProcessorConfig};
pub use reprocess::{reprocess, ReprocessReport, Scope};

/// Starts the background interpreter of received deliveries (retries with backoff).
pub fn spawn_processor(pool: deadpool_postgres::Pool, config: ProcessorConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_processor(pool, config))
}
