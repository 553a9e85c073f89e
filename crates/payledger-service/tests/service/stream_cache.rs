//! The cache of decided stream states: a command on a long or hot stream folds only the
//! events since the cached version, and the result equals a fresh fold.

use std::time::Duration;

use payledger_core::order::{OrderSnapshot, OrderStatus};
use payledger_core::payment::{CaptureMethod, PaymentCommand, PaymentEvent, PaymentState, Provider};
use payledger_core::{AmountMinor, Currency, DomainError, MinorUnits, OrderId, PaymentId};
use payledger_service::aggregate::{encode, fold_after, load, Aggregate, PaymentAggregate, StateCache};
use payledger_service::command::{execute, now, Actor, CommandConfig, CommandContext, Executed, Own, Success};
use payledger_service::ServiceError;
use payledger_store::{append_batch, BatchItem, ExpectedVersion, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn amount(minor: i64) -> AmountMinor {
    AmountMinor::new(minor).unwrap()
}

/// A payment authorised for `authorized` and captured `captures` times by 1: valid events.
fn payment_events(authorized: i64, captures: usize) -> Vec<PaymentEvent> {
    let usd = Currency::parse("USD").unwrap();
    let order = OrderSnapshot {
        order_id: OrderId::new(),
        status: OrderStatus::Open,
        amount_minor: amount(authorized),
        amount_committed: MinorUnits::ZERO,
        currency: usd,
    };
    let mut commands = vec![
        PaymentCommand::Initiate {
            payment_id: PaymentId::new(),
            order,
            amount_minor: amount(authorized),
            currency: usd,
            capture_method: CaptureMethod::Manual,
            provider: Provider::Generic,
            provider_reference: None,
            at: now(),
        },
        PaymentCommand::Authorize { amount_minor: None },
    ];
    commands
        .extend((0..captures).map(|_| PaymentCommand::Capture { amount_minor: Some(amount(1)), final_capture: false }));
    let mut state = PaymentState::default();
    let mut events = Vec::new();
    for command in commands {
        for event in PaymentAggregate::decide(&state, command).unwrap() {
            state = PaymentAggregate::evolve(state, &event);
            events.push(event);
        }
    }
    events
}

/// Appends the events in batches of 1,000, as fast as the store takes them.
async fn seed(pool: &deadpool_postgres::Pool, stream: &StreamKey, events: &[PaymentEvent]) {
    let mut version = 0;
    for chunk in events.chunks(1_000) {
        let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
        let events = chunk.iter().map(|e| encode::<PaymentAggregate>(e, json!({}))).collect();
        append_batch(pool, vec![BatchItem { stream: stream.clone(), expected, events }]).await.unwrap();
        version += chunk.len() as i64;
    }
}

fn context(pool: &deadpool_postgres::Pool, tenant_id: Uuid, states: &StateCache) -> CommandContext {
    CommandContext {
        pool: pool.clone(),
        config: CommandConfig {
            max_attempts: 3,
            stream_lock_timeout_ms: 30_000,
            idempotency_retention: Duration::from_secs(3600),
        },
        actor: Actor { tenant_id, key_id: Uuid::now_v7(), credential: payledger_service::tenants::Credential::ApiKey },
        idempotency_key: None,
        fingerprint: [0; 32],
        request_id: None,
        states: states.clone(),
    }
}

async fn capture(ctx: CommandContext, stream: &StreamKey, minor: i64) -> Result<Executed, ServiceError> {
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        stream.clone(),
        Own,
        Success::Ok,
        move |_, _| Ok(PaymentCommand::Capture { amount_minor: Some(amount(minor)), final_capture: false }),
        |payment, _| Ok(json!({ "captured": payment.as_ref().map(|p| p.amount_captured.get()) })),
    )
    .await
}

async fn fresh_fold(pool: &deadpool_postgres::Pool, stream: &StreamKey) -> (PaymentState, i64) {
    let client = pool.get().await.unwrap();
    load::<PaymentAggregate, _>(&**client, stream).await.unwrap()
}

/// Nothing (or not enough) is left to capture.
fn refused_capture(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::Domain(DomainError::AmountExceedsCapturable { .. } | DomainError::PaymentNotCapturable { .. })
    )
}

fn captured(state: &PaymentState) -> i64 {
    state.as_ref().unwrap().amount_captured.get()
}

#[tokio::test]
async fn a_stream_past_ten_thousand_events_still_takes_commands() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let stream = StreamKey::new(Uuid::now_v7(), "payment-long");
    seed(&pool, &stream, &payment_events(100_000, 10_050)).await;
    let states = StateCache::new(16);

    // Cold (nothing cached): the whole stream is folded, page by page.
    capture(context(&pool, stream.tenant_id, &states), &stream, 7).await.unwrap();
    assert_eq!(states.version_of::<PaymentAggregate>(&stream), Some(10_053));
    // Warm: folds only what came after the cached version.
    capture(context(&pool, stream.tenant_id, &states), &stream, 5).await.unwrap();

    let (state, version) = fresh_fold(&pool, &stream).await;
    assert_eq!((captured(&state), version), (10_050 + 7 + 5, 10_054));
    assert_eq!(states.get::<PaymentAggregate>(&stream), Some((state, version)));
}

/// Two server processes (each its own pool and cache) capture on one stream at once: every
/// decision sees every earlier capture, whoever made it, so nothing is captured twice.
#[tokio::test]
async fn two_processes_capturing_at_once_never_over_capture() {
    let db = TestDb::new().await;
    let processes = [(db.pool(4), StateCache::new(16)), (db.pool(4), StateCache::new(16))];
    let stream = StreamKey::new(Uuid::now_v7(), "payment-hot");
    seed(&processes[0].0, &stream, &payment_events(60, 0)).await;
    // Both caches warm, then each goes stale as the other appends.
    for (pool, states) in &processes {
        capture(context(pool, stream.tenant_id, states), &stream, 2).await.unwrap();
    }

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..40 {
        let (pool, states) = &processes[n % 2];
        let ctx = context(pool, stream.tenant_id, states);
        let stream = stream.clone();
        tasks.spawn(async move { capture(ctx, &stream, 2).await });
    }
    let (mut accepted, mut refused) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(_) => accepted += 1,
            Err(e) if refused_capture(&e) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((accepted, refused), (28, 12), "60 authorised, 2 captured by each process first");

    let (state, version) = fresh_fold(&processes[0].0, &stream).await;
    assert_eq!((captured(&state), version), (60, 2 + 30));
    for (pool, states) in &processes {
        let cached = states.get::<PaymentAggregate>(&stream).unwrap();
        assert!(cached.1 <= version);
        let client = pool.get().await.unwrap();
        let caught_up = fold_after::<PaymentAggregate, _>(&**client, &stream, cached, None).await.unwrap();
        assert_eq!(caught_up, (state.clone(), version), "a cached state plus the events since is a fresh fold");
        // A stale cache must not decide on its own: the other process captured the rest.
        let late = capture(context(pool, stream.tenant_id, states), &stream, 2).await;
        assert!(late.as_ref().is_err_and(refused_capture), "{late:?}");
    }
}

#[tokio::test]
async fn a_command_that_rolls_back_leaves_no_cache_entry() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let stream = StreamKey::new(Uuid::now_v7(), "payment-rollback");
    seed(&pool, &stream, &payment_events(10, 0)).await;
    let states = StateCache::new(16);

    // Refused by decide.
    let refused = capture(context(&pool, stream.tenant_id, &states), &stream, 20).await;
    assert!(matches!(refused, Err(ServiceError::Domain(DomainError::AmountExceedsCapturable { .. }))), "{refused:?}");
    assert_eq!(states.version_of::<PaymentAggregate>(&stream), None);

    // Appended, then failed before commit: the append rolls back and must not be cached.
    let failed = execute::<PaymentAggregate, _, _, _>(
        context(&pool, stream.tenant_id, &states),
        stream.clone(),
        Own,
        Success::Ok,
        |_, _| Ok(PaymentCommand::Capture { amount_minor: Some(amount(4)), final_capture: false }),
        |_, _| Err(ServiceError::internal("the answer cannot be built")),
    )
    .await;
    assert!(matches!(failed, Err(ServiceError::Internal(_))), "{failed:?}");
    assert_eq!(states.version_of::<PaymentAggregate>(&stream), None);
    assert_eq!(fresh_fold(&pool, &stream).await.1, 2);

    // The rolled-back capture left the money capturable.
    capture(context(&pool, stream.tenant_id, &states), &stream, 10).await.unwrap();
    let (state, version) = fresh_fold(&pool, &stream).await;
    assert_eq!(captured(&state), 10);
    assert_eq!(states.get::<PaymentAggregate>(&stream), Some((state, version)));
}

/// The append's version guard stays the final check: an entry ahead of the store (it cannot
/// come from a commit; here it is planted) makes the append conflict, and the retry folds afresh.
#[tokio::test]
async fn an_entry_the_store_disagrees_with_is_dropped_and_the_command_retried() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let stream = StreamKey::new(Uuid::now_v7(), "payment-planted");
    let events = payment_events(10, 0);
    seed(&pool, &stream, &events).await;
    let states = StateCache::new(16);
    let planted = events.iter().fold(PaymentState::default(), PaymentAggregate::evolve);
    states.put::<PaymentAggregate>(&stream, 50, Uuid::now_v7(), &planted);

    capture(context(&pool, stream.tenant_id, &states), &stream, 3).await.unwrap();
    let (state, version) = fresh_fold(&pool, &stream).await;
    assert_eq!((captured(&state), version), (3, 3));
    assert_eq!(states.get::<PaymentAggregate>(&stream), Some((state, version)));
}

/// Another tenant naming the same stream id reads nothing of the first tenant's cached state.
#[tokio::test]
async fn another_tenant_never_decides_on_a_cached_state() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let mine = StreamKey::new(Uuid::now_v7(), "payment-shared-id");
    seed(&pool, &mine, &payment_events(10, 0)).await;
    let states = StateCache::new(16);
    capture(context(&pool, mine.tenant_id, &states), &mine, 1).await.unwrap();

    let theirs = StreamKey::new(Uuid::now_v7(), mine.stream_id.clone());
    let attempt = capture(context(&pool, theirs.tenant_id, &states), &theirs, 1).await;
    assert!(matches!(attempt, Err(ServiceError::Domain(_))), "{attempt:?}");
    assert_eq!(states.version_of::<PaymentAggregate>(&theirs), None);
    assert_eq!(fresh_fold(&pool, &theirs).await.1, 0);
    assert_eq!(captured(&fresh_fold(&pool, &mine).await.0), 1);
}

/// A cached state is used only while the stream's event at its version is the one it was
/// folded up to: here the history the cache saw is gone (as after a restore, or a failover to
/// a replica that lost commits) and another event now holds that version. Deciding on the
/// cached state would refuse a capture the stored payment allows (or allow one it refuses).
#[tokio::test]
async fn a_cached_state_whose_event_is_not_the_stored_one_is_not_decided_on() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let stream = StreamKey::new(Uuid::now_v7(), "payment-replaced");
    let events = payment_events(10, 0);
    seed(&pool, &stream, &events).await;
    let (stored, version) = fresh_fold(&pool, &stream).await;
    assert_eq!((captured(&stored), version), (0, 2));
    // What the cache saw at version 2: the whole 10 captured (a history that is not stored).
    let seen = payment_events(10, 10).iter().take(2).fold(PaymentState::default(), PaymentAggregate::evolve);
    let seen = PaymentAggregate::decide(&seen, PaymentCommand::Capture { amount_minor: None, final_capture: true })
        .unwrap()
        .iter()
        .fold(seen, PaymentAggregate::evolve);
    assert_eq!(captured(&seen), 10);
    let states = StateCache::new(16);
    states.put::<PaymentAggregate>(&stream, version, Uuid::now_v7(), &seen);

    capture(context(&pool, stream.tenant_id, &states), &stream, 4).await.unwrap();
    let (state, version) = fresh_fold(&pool, &stream).await;
    assert_eq!((captured(&state), version), (4, 3), "decided on the stored payment");
    assert_eq!(states.get::<PaymentAggregate>(&stream), Some((state, version)), "the entry is the stored state now");
}
