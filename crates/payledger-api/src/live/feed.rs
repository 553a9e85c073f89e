//! The live event feed: the tenant's events in the gap-free read order, as
//! `id: <position>`, `event: <event_type>`, `data: <the event as GET /v1/events shows it>`.
//!
//! A reader task per feed reads the log after its checkpoint whenever a NOTIFY wakes it (or
//! its fallback poll fires) and hands events to the response through a bounded channel; it
//! reads only as much as the channel has room for, so a slow client holds back reading, not
//! memory. A client that takes nothing from a full buffer for `slow_consumer_ms` gets
//! `event: error` with `consumer_too_slow` and is closed; it resumes with `Last-Event-ID`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use deadpool_postgres::Pool;
use futures::stream::{self, Stream};
use payledger_service::export::event_json;
use payledger_store::{read_all, Checkpoint, ReadAllFilter, RecordedEvent};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::hub::{Live, Slot};

/// Most events one read of a feed returns.
const FEED_READ_BATCH: i64 = 500;

/// Why a feed ends early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    TooSlow,
    ReadFailed,
}

/// Serves the feed from `after` (exclusive); each event carries `livemode`, the credential's mode.
pub fn respond(
    pool: Pool,
    live: Arc<Live>,
    slot: Slot,
    filter: ReadAllFilter,
    after: Checkpoint,
    livemode: bool,
) -> Response {
    let (events_tx, events_rx) = mpsc::channel(live.config.buffer_events.max(1));
    let (cut_tx, cut_rx) = oneshot::channel();
    let heartbeat = Duration::from_millis(live.config.heartbeat_ms.max(1));
    tokio::spawn(read_into(pool, live, filter, after, events_tx, cut_tx));
    let body = frames(events_rx, cut_rx, slot, after.position, livemode);
    Sse::new(body).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat")).into_response()
}

struct Frames {
    events: mpsc::Receiver<RecordedEvent>,
    cut: oneshot::Receiver<Cut>,
    last_id: i64,
    ended: bool,
    livemode: bool,
    _slot: Slot,
}

/// The response body: events as they come; a cut ends it at once with its error frame.
fn frames(
    events: mpsc::Receiver<RecordedEvent>,
    cut: oneshot::Receiver<Cut>,
    slot: Slot,
    last_id: i64,
    livemode: bool,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = Frames { events, cut, last_id, ended: false, livemode, _slot: slot };
    stream::unfold(state, |mut s| async move {
        if s.ended {
            return None;
        }
        let cut = tokio::select! {
            biased;
            cut = &mut s.cut => cut.ok(),
            event = s.events.recv() => match event {
                Some(event) => {
                    s.last_id = event.global_position;
                    return Some((Ok(event_frame(&event, s.livemode)), s));
                }
                None => None,
            },
        };
        let cut = cut?;
        s.ended = true;
        Some((Ok(cut_frame(cut, s.last_id)), s))
    })
}

fn event_frame(event: &RecordedEvent, livemode: bool) -> Event {
    let mut data = event_json(event);
    if let Some(map) = data.as_object_mut() {
        map.insert("livemode".to_owned(), livemode.into());
    }
    Event::default().id(event.global_position.to_string()).event(event.event_type.as_str()).data(data.to_string())
}

fn cut_frame(cut: Cut, last_id: i64) -> Event {
    let (code, message) = match cut {
        Cut::TooSlow => ("consumer_too_slow", "the client did not keep up with the feed; resume with Last-Event-ID"),
        Cut::ReadFailed => ("feed_interrupted", "the feed could not read the log; resume with Last-Event-ID"),
    };
    let data = json!({ "error": { "code": code, "message": message, "last_event_id": last_id } });
    Event::default().event("error").data(data.to_string())
}

/// The reader task: ends when the client is gone, is cut, or the server closes.
async fn read_into(
    pool: Pool,
    live: Arc<Live>,
    filter: ReadAllFilter,
    mut after: Checkpoint,
    events: mpsc::Sender<RecordedEvent>,
    cut: oneshot::Sender<Cut>,
) {
    let mut wakes = live.wakes();
    let mut closing = live.closing();
    let fallback = Duration::from_millis(live.config.fallback_poll_ms.max(1));
    let slow = Duration::from_millis(live.config.slow_consumer_ms.max(1));
    loop {
        match drain(&pool, &filter, &mut after, &events, slow).await {
            Ok(()) => {}
            Err(Some(why)) => {
                let _ = cut.send(why);
                return;
            }
            Err(None) => return,
        }
        if *closing.borrow() {
            return;
        }
        tokio::select! {
            _ = wakes.changed() => {}
            () = tokio::time::sleep(fallback) => {}
            _ = closing.changed() => return,
            () = events.closed() => return,
        }
    }
}

/// Hands over every readable event after `after`. `Err(None)`: the client is gone.
async fn drain(
    pool: &Pool,
    filter: &ReadAllFilter,
    after: &mut Checkpoint,
    events: &mpsc::Sender<RecordedEvent>,
    slow: Duration,
) -> Result<(), Option<Cut>> {
    loop {
        // Read no more than there is room for; with no room, wait for some (or cut).
        let room = match tokio::time::timeout(slow, events.reserve()).await {
            Ok(Ok(permit)) => {
                drop(permit);
                events.capacity().max(1)
            }
            Ok(Err(_)) => return Err(None),
            Err(_) => return Err(Some(Cut::TooSlow)),
        };
        let limit = (room as i64).clamp(1, FEED_READ_BATCH);
        let read = match pool.get().await {
            Ok(client) => read_all(&**client, *after, filter, limit).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let batch = read.map_err(|error| {
            tracing::warn!(%error, "a live feed could not read the log; cutting it");
            Some(Cut::ReadFailed)
        })?;
        if batch.is_empty() {
            return Ok(());
        }
        for event in batch {
            let checkpoint = event.checkpoint();
            match tokio::time::timeout(slow, events.send(event)).await {
                Ok(Ok(())) => *after = checkpoint,
                Ok(Err(_)) => return Err(None),
                Err(_) => return Err(Some(Cut::TooSlow)),
            }
            metrics::counter!("payledger_feed_events_buffered_total").increment(1);
        }
    }
}
