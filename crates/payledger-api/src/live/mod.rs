//! Live streams over Server-Sent Events: the event feed (`GET /v1/events` with
//! `Accept: text/event-stream`) and a job's progress (`GET /v1/jobs/{id}`, the same way).
//!
//! One LISTEN connection per process wakes every feed ([`hub`]); each stream holds a slot
//! counted per key and per process (429 `too_many_feeds` beyond) and a bounded buffer.

pub mod feed;
pub mod hub;
pub mod job;

pub use hub::{Live, LiveConfig, Slot};

/// Whether the client asked for an event stream.
pub fn wants_event_stream(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|part| part.split(';').next().unwrap_or("").trim() == "text/event-stream"))
}
