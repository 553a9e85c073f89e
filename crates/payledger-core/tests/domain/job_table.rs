//! Every row of the job state machine, allowed and refused, and the job events' codec.

use payledger_core::job::{transition, JobEvent, JobKind, JobStatus, JobStep};
use payledger_core::{DomainEvent, JobId};
use serde_json::json;

/// Steps in the order of `JobStep::ALL`: claim, requeue, succeed, fail, cancel.
fn expected(status: JobStatus) -> [Option<JobStatus>; 5] {
    use JobStatus::*;
    match status {
        Queued => [Some(Running), None, None, Some(Failed), Some(Cancelled)],
        Running => [Some(Running), Some(Queued), Some(Succeeded), Some(Failed), Some(Cancelled)],
        Succeeded => [None, None, None, None, None],
        Failed => [None, None, None, None, None],
        Cancelled => [None, None, None, None, None],
    }
}

#[test]
fn every_status_and_step_lands_where_the_table_says() {
    for status in JobStatus::ALL {
        for (step, want) in JobStep::ALL.into_iter().zip(expected(status)) {
            assert_eq!(transition(status, step), want, "{status:?} + {step:?}");
        }
    }
}

#[test]
fn a_finished_job_is_exactly_one_that_accepts_no_step() {
    for status in JobStatus::ALL {
        let accepts_any = JobStep::ALL.into_iter().any(|step| transition(status, step).is_some());
        assert_eq!(status.is_finished(), !accepts_any, "{status:?}");
    }
}

#[test]
fn names_round_trip() {
    for status in JobStatus::ALL {
        assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        assert_eq!(serde_json::to_value(status).unwrap(), json!(status.as_str()));
    }
    for kind in JobKind::ALL {
        assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
    }
    assert_eq!(JobStatus::parse("done"), None);
    assert_eq!(JobKind::parse("rebuild"), None);
}

#[test]
fn job_events_round_trip_through_the_domain_codec() {
    let job_id = JobId::new();
    let events = [
        JobEvent::JobRequested {
            job_id,
            kind: JobKind::ProjectionVerify,
            params: json!({"repair": false}),
            requested_by: "api_key:k1".into(),
        },
        JobEvent::JobSucceeded { job_id, result: json!({"clean": true}), attempts: 1 },
        JobEvent::JobFailed { job_id, error: json!({"code": "x", "message": "y"}), attempts: 3 },
        JobEvent::JobCancelled { job_id, cancelled_by: "api_key:k1".into() },
    ];
    for event in events {
        let domain = DomainEvent::from(event.clone());
        assert_eq!(domain.event_type(), event.event_type());
        let decoded = DomainEvent::decode(domain.event_type(), domain.schema_version(), &domain.to_payload()).unwrap();
        assert_eq!(decoded, DomainEvent::Job(event.clone()));
        assert!(JobEvent::decode(event.event_type(), 2, &event.to_payload()).is_err());
    }
    assert_eq!(JobId::from_stream_id(&job_id.stream_id()).unwrap(), job_id);
}
