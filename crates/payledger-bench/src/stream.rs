//! `payledger-bench stream`: the latency of a capture on a payment stream that already holds
//! 10, 1,000, 10,000 or more events, through the service's command pipeline (idempotency
//! claim, lock, load, decide, append, record, commit), with the state cache on and off, beside
//! the same PostgreSQL's one-row INSERT latency measured in the same run. With the cache a
//! command folds only the events since the cached version, so its latency should not grow
//! with the stream; without it every command reads and folds the whole stream.

use std::fmt;
use std::time::{Duration, Instant};

use payledger_core::order::{OrderSnapshot, OrderStatus};
use payledger_core::payment::{CaptureMethod, PaymentCommand, PaymentEvent, PaymentState, Provider};
use payledger_core::{AmountMinor, Currency, MinorUnits, OrderId, PaymentId};
use payledger_service::aggregate::{encode, Aggregate, PaymentAggregate, StateCache};
use payledger_service::command::{execute, now, Actor, CommandConfig, CommandContext, Own, Success};
use payledger_store::{append_batch, connect_pool, BatchItem, ExpectedVersion, Pool, PoolOptions, StreamKey};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::ceiling::{self, CeilingSpec};
use crate::database::{BenchDatabase, RunClock};
use crate::environment::Environment;
use crate::error::BenchError;
use crate::stats::Latency;
use crate::store::{Measurement, PhaseLimit};

pub const DEFAULT_LENGTHS: [u64; 4] = [10, 1_000, 10_000, 20_000];
pub const DEFAULT_COMMANDS: usize = 200;
pub const DEFAULT_UNCACHED_COMMANDS: usize = 20;
/// Events per batch append while seeding a stream.
const SEED_BATCH_EVENTS: usize = 1_000;
const CEILING_DURATION_MS: u64 = 5_000;
const CEILING_WARMUP_MS: u64 = 1_000;

#[derive(Debug, Clone)]
pub struct StreamBenchOptions {
    pub database_url: String,
    /// Events in each stream before its measured commands.
    pub lengths: Vec<u64>,
    /// Timed commands per stream with the cache on.
    pub commands: usize,
    /// Timed commands per stream with the cache off (0: not measured).
    pub uncached_commands: usize,
    /// Concurrent writers on the one stream (each command waits for the stream's lock).
    pub writers: usize,
    pub skip_pgbench: bool,
    pub keep_database: bool,
}

impl StreamBenchOptions {
    pub fn new(database_url: &str) -> StreamBenchOptions {
        StreamBenchOptions {
            database_url: database_url.to_owned(),
            lengths: DEFAULT_LENGTHS.to_vec(),
            commands: DEFAULT_COMMANDS,
            uncached_commands: DEFAULT_UNCACHED_COMMANDS,
            writers: 1,
            skip_pgbench: false,
            keep_database: false,
        }
    }

    fn validate(&self) -> Result<(), BenchError> {
        if self.lengths.iter().any(|&l| l < 2) || self.lengths.is_empty() || self.commands == 0 || self.writers == 0 {
            return Err(BenchError::InvalidOptions(
                "lengths must be at least 2, commands and writers at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Sequential captures on one stream of `events_before` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamResult {
    pub events_before: u64,
    pub cache: bool,
    /// The first command, untimed in `latency`: with the cache on it folds the whole stream
    /// (a cold load, as after a restart) and fills the cache.
    pub first_command_ms: f64,
    pub latency: Option<Latency>,
    /// The command's p50 ÷ the one-row INSERT's p50 (Rust harness, same writers).
    pub p50_vs_insert: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamBenchReport {
    pub started_at_unix_s: u64,
    pub total_duration_ms: u64,
    pub environment: Environment,
    pub database: String,
    pub commands: usize,
    pub uncached_commands: usize,
    pub writers: usize,
    pub streams: Vec<StreamResult>,
    /// With the cache: the p50 at the longest stream ÷ the p50 at the shortest (1.0: flat).
    pub cached_longest_vs_shortest_p50: Option<f64>,
    /// Plain one-row INSERT of the events row shape, at as many writers as the streams had.
    pub ceiling: Vec<Measurement>,
    pub notes: Vec<String>,
}

pub async fn run(opts: StreamBenchOptions) -> Result<StreamBenchReport, BenchError> {
    opts.validate()?;
    let clock = RunClock::start();
    let (db, mut environment) = BenchDatabase::open(&opts.database_url).await?;
    let result = run_in(&opts, &db.url).await;
    let (mut streams, ceiling, notes) = db.finish(opts.keep_database, result).await?;
    environment.load_average_end = crate::environment::load_average();
    let insert_p50 = ceiling.first().and_then(|m| m.latency).map(|l| l.p50_ms).filter(|&p| p > 0.0);
    for s in &mut streams {
        s.p50_vs_insert = s.latency.zip(insert_p50).map(|(l, i)| l.p50_ms / i);
    }
    let cached: Vec<f64> = streams.iter().filter(|s| s.cache).filter_map(|s| s.latency.map(|l| l.p50_ms)).collect();
    let flatness = match (cached.first(), cached.last()) {
        (Some(&first), Some(&last)) if first > 0.0 => Some(last / first),
        _ => None,
    };
    Ok(StreamBenchReport {
        started_at_unix_s: clock.started_at_unix_s,
        total_duration_ms: clock.elapsed_ms(),
        environment,
        database: db.name.clone(),
        commands: opts.commands,
        uncached_commands: opts.uncached_commands,
        writers: opts.writers,
        streams,
        cached_longest_vs_shortest_p50: flatness,
        ceiling,
        notes,
    })
}

type Phases = (Vec<StreamResult>, Vec<Measurement>, Vec<String>);

async fn run_in(opts: &StreamBenchOptions, url: &str) -> Result<Phases, BenchError> {
    let pool_options =
        PoolOptions { max_connections: opts.writers + 1, wait_timeout_ms: 30_000, statement_timeout_ms: 120_000 };
    let pool = connect_pool(url, &pool_options)?;
    let tenant_id = Uuid::new_v4();
    let mut lengths = opts.lengths.clone();
    lengths.sort_unstable();
    let mut streams = Vec::new();
    for &length in &lengths {
        for (cache, commands) in [(true, opts.commands), (false, opts.uncached_commands)] {
            if commands == 0 {
                continue;
            }
            let stream = StreamKey::new(tenant_id, format!("payment-bench-{length}-{cache}"));
            seed(&pool, &stream, length, commands).await?;
            tracing::info!(length, cache, "stream seeded, measuring");
            let run = Run { pool: pool.clone(), stream, cache, commands, writers: opts.writers };
            streams.push(run.measure(length).await?);
        }
    }
    let mut notes = Vec::new();
    let pgbench = ceiling::find_pgbench(opts.skip_pgbench, None, &mut notes);
    let spec = CeilingSpec {
        pool: &pool,
        bench_url: url,
        writers: opts.writers,
        limit: PhaseLimit::Duration(Duration::from_millis(CEILING_DURATION_MS)),
        warmup: Duration::from_millis(CEILING_WARMUP_MS),
        pgbench,
    };
    let (ceiling, ceiling_notes) = ceiling::measure(&spec).await?;
    notes.extend(ceiling_notes);
    pool.close();
    Ok((streams, ceiling, notes))
}

/// A payment authorised for more than every capture will take, then captured by 1 until
/// the stream holds `length` events; valid events, decided by the domain.
fn payment_events(length: u64, commands: usize) -> Result<Vec<PaymentEvent>, BenchError> {
    let setup = |e: &dyn fmt::Display| BenchError::Setup(format!("seed: {e}"));
    let authorized = i64::try_from(length).unwrap_or(i64::MAX / 2) + commands as i64 + 10;
    let amount = |minor: i64| AmountMinor::new(minor).map_err(|e| setup(&e));
    let usd = Currency::parse("USD").map_err(|e| setup(&e))?;
    let order = OrderSnapshot {
        order_id: OrderId::new(),
        status: OrderStatus::Open,
        amount_minor: amount(authorized)?,
        amount_committed: MinorUnits::ZERO,
        currency: usd,
    };
    let initiate = PaymentCommand::Initiate {
        payment_id: PaymentId::new(),
        order,
        amount_minor: amount(authorized)?,
        currency: usd,
        capture_method: CaptureMethod::Manual,
        provider: Provider::Generic,
        provider_reference: None,
        at: now(),
    };
    let mut state = PaymentState::default();
    let mut events = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    let mut next = Some(initiate);
    while let Some(command) = next.take() {
        for event in PaymentAggregate::decide(&state, command).map_err(|e| setup(&e))? {
            state = PaymentAggregate::evolve(state, &event);
            events.push(event);
        }
        if (events.len() as u64) < length {
            next = Some(if events.len() == 1 {
                PaymentCommand::Authorize { amount_minor: None }
            } else {
                PaymentCommand::Capture { amount_minor: Some(amount(1)?), final_capture: false }
            });
        }
    }
    Ok(events)
}

async fn seed(pool: &Pool, stream: &StreamKey, length: u64, commands: usize) -> Result<(), BenchError> {
    let events = payment_events(length, commands)?;
    let mut version = 0;
    for chunk in events.chunks(SEED_BATCH_EVENTS) {
        let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
        let events = chunk.iter().map(|e| encode::<PaymentAggregate>(e, json!({ "source": "bench" }))).collect();
        append_batch(pool, vec![BatchItem { stream: stream.clone(), expected, events }]).await?;
        version += chunk.len() as i64;
    }
    Ok(())
}

/// The timed commands on one seeded stream.
struct Run {
    pool: Pool,
    stream: StreamKey,
    cache: bool,
    commands: usize,
    writers: usize,
}

impl Run {
    async fn measure(self, length: u64) -> Result<StreamResult, BenchError> {
        let states = StateCache::new(usize::from(self.cache));
        let first = Instant::now();
        capture(&self.pool, &self.stream, &states).await?;
        let first_command_ms = first.elapsed().as_secs_f64() * 1_000.0;
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..self.writers {
            let share = self.commands / self.writers + usize::from(w < self.commands % self.writers);
            let (pool, stream, states) = (self.pool.clone(), self.stream.clone(), states.clone());
            writers.spawn(async move { timed_captures(&pool, &stream, &states, share).await });
        }
        let mut samples_us = Vec::with_capacity(self.commands);
        while let Some(joined) = writers.join_next().await {
            samples_us.extend(joined.map_err(|e| BenchError::Setup(format!("writer: {e}")))??);
        }
        Ok(StreamResult {
            events_before: length,
            cache: self.cache,
            first_command_ms,
            latency: Latency::from_micros(samples_us),
            p50_vs_insert: None,
        })
    }
}

async fn timed_captures(
    pool: &Pool,
    stream: &StreamKey,
    states: &StateCache,
    commands: usize,
) -> Result<Vec<u64>, BenchError> {
    let mut samples_us = Vec::with_capacity(commands);
    for _ in 0..commands {
        let started = Instant::now();
        capture(pool, stream, states).await?;
        samples_us.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    Ok(samples_us)
}

/// One capture of 1 minor unit under a fresh idempotency key, as the API runs it.
async fn capture(pool: &Pool, stream: &StreamKey, states: &StateCache) -> Result<(), BenchError> {
    let ctx = CommandContext {
        pool: pool.clone(),
        config: CommandConfig {
            max_attempts: 3,
            stream_lock_timeout_ms: 10_000,
            idempotency_retention: Duration::from_secs(3_600),
        },
        actor: Actor {
            tenant_id: stream.tenant_id,
            key_id: Uuid::nil(),
            credential: payledger_service::tenants::Credential::ApiKey,
        },
        idempotency_key: Some(Uuid::new_v4().to_string()),
        fingerprint: [0; 32],
        request_id: None,
        states: states.clone(),
    };
    let one = AmountMinor::new(1).map_err(|e| BenchError::Setup(e.to_string()))?;
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        stream.clone(),
        Own,
        Success::Ok,
        move |_, _| Ok(PaymentCommand::Capture { amount_minor: Some(one), final_capture: false }),
        |payment, _| Ok(json!({ "captured": payment.as_ref().map(|p| p.amount_captured.get()) })),
    )
    .await
    .map(drop)
    .map_err(|e| BenchError::Setup(format!("capture: {e:?}")))
}

fn ms(latency: Option<Latency>, pick: fn(&Latency) -> f64) -> String {
    latency.map_or_else(|| "-".into(), |l| format!("{:.2}", pick(&l)))
}

impl fmt::Display for StreamBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = &self.environment;
        let load = |l: Option<crate::LoadAverage>| l.map_or_else(|| "-".into(), |l| format!("{:.2}", l.one_min));
        writeln!(
            f,
            "stream benchmark: captures through the command pipeline on streams of N events, {} writer(s) per stream",
            self.writers
        )?;
        writeln!(
            f,
            "  {} CPUs; load average {} at the start, {} at the end; {}",
            env.cpus,
            load(env.load_average_start),
            load(env.load_average_end),
            env.postgres_version
        )?;
        writeln!(
            f,
            "  {:>8}  {:<5}  {:>9}  {:>8}  {:>8}  {:>8}  {:>8}  {:>11}",
            "events", "cache", "first ms", "n", "p50 ms", "p99 ms", "max ms", "p50/INSERT"
        )?;
        for s in &self.streams {
            let n = s.latency.map_or(0, |l| l.samples);
            let ratio = s.p50_vs_insert.map_or_else(|| "-".into(), |r| format!("{r:.1}"));
            let cache = if s.cache { "on" } else { "off" };
            writeln!(
                f,
                "  {:>8}  {:<5}  {:>9.2}  {:>8}  {:>8}  {:>8}  {:>8}  {:>11}",
                s.events_before,
                cache,
                s.first_command_ms,
                n,
                ms(s.latency, |l| l.p50_ms),
                ms(s.latency, |l| l.p99_ms),
                ms(s.latency, |l| l.max_ms),
                ratio
            )?;
        }
        if let Some(r) = self.cached_longest_vs_shortest_p50 {
            writeln!(f, "  cache on: p50 at the longest stream / p50 at the shortest = {r:.2} (1.00: flat)")?;
        }
        writeln!(f, "ceiling at {} writer(s): plain one-row INSERT of the events row shape", self.writers)?;
        for m in &self.ceiling {
            writeln!(
                f,
                "  {:<31} {:>9} tx {:>9.1} tx/s  p50 {} ms  p99 {} ms",
                m.workload.label(),
                m.ops,
                m.ops_per_s,
                ms(m.latency, |l| l.p50_ms),
                ms(m.latency, |l| l.p99_ms)
            )?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}
