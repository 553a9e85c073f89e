//! Webhook deliveries over HTTP: what is admitted before a body is read. The work itself
//! (ingest, interpretation, retries) is `payledger_service::webhooks`.

pub mod admission;
