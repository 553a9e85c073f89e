//! A job's progress as Server-Sent Events: its state first (`event: progress`, also when it
//! has already finished), then `event: progress` whenever it changes (looked at every
//! `job_poll_ms`), then `event: done`, `failed` or `cancelled` with the job, and the end.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use deadpool_postgres::Pool;
use futures::stream;
use payledger_core::job::JobStatus;
use payledger_core::JobId;
use payledger_service::jobs::{get_job, Job};
use tokio::sync::watch;
use uuid::Uuid;

use super::hub::{Live, Slot};
use crate::views::job::job_json;

struct Watch {
    livemode: bool,
    pool: Pool,
    tenant_id: Uuid,
    id: JobId,
    poll: Duration,
    closing: watch::Receiver<bool>,
    /// What the last progress frame showed.
    shown: Option<(JobStatus, i64, Option<i64>)>,
    ended: bool,
    _slot: Slot,
}

/// Streams `job` (already read once, so a missing job is a 404 before this).
/// `livemode`: the credential's mode, which every frame's job carries.
pub fn respond(pool: Pool, live: Arc<Live>, slot: Slot, job: Job, livemode: bool) -> Response {
    let state = Watch {
        pool,
        livemode,
        tenant_id: job.tenant_id,
        id: job.id,
        poll: Duration::from_millis(live.config.job_poll_ms.max(1)),
        closing: live.closing(),
        shown: None,
        ended: false,
        _slot: slot,
    };
    let heartbeat = Duration::from_millis(live.config.heartbeat_ms.max(1));
    let first = job;
    let body = stream::unfold((state, Some(first)), |(mut s, mut next)| async move {
        if s.ended {
            return None;
        }
        loop {
            let job = match next.take() {
                Some(job) => job,
                None => {
                    if *s.closing.borrow() {
                        return None;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(s.poll) => {}
                        _ = s.closing.changed() => return None,
                    }
                    match read(&s).await {
                        Some(job) => job,
                        None => return None,
                    }
                }
            };
            let seen = (job.status, job.progress_done, job.progress_total);
            if s.shown != Some(seen) {
                s.shown = Some(seen);
                // A finished job gets its final frame right after this one.
                let again = job.status.is_finished().then(|| job.clone());
                return Some((Ok::<_, Infallible>(frame("progress", &job, s.livemode)), (s, again)));
            }
            if job.status.is_finished() {
                s.ended = true;
                let name = match job.status {
                    JobStatus::Succeeded => "done",
                    JobStatus::Cancelled => "cancelled",
                    JobStatus::Failed | JobStatus::Queued | JobStatus::Running => "failed",
                };
                return Some((Ok(frame(name, &job, s.livemode)), (s, None)));
            }
        }
    });
    Sse::new(body).keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat")).into_response()
}

async fn read(s: &Watch) -> Option<Job> {
    let client = s.pool.get().await.ok()?;
    match get_job(&**client, s.tenant_id, s.id).await {
        Ok(job) => job,
        Err(error) => {
            tracing::warn!(%error, job_id = %s.id, "a job stream could not read its job");
            None
        }
    }
}

fn frame(name: &'static str, job: &Job, livemode: bool) -> Event {
    let mut data = job_json(job);
    if let Some(map) = data.as_object_mut() {
        map.insert("livemode".to_owned(), livemode.into());
    }
    Event::default().event(name).data(data.to_string())
}
