//! The writers of each workload, and the loop that times them.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use deadpool_postgres::Object;
use payledger_store::{append, append_batch, BatchItem, ExpectedVersion, NewEvent, Pool, StreamKey};
use serde_json::{json, Value};
use tokio::sync::Barrier;
use tokio_postgres::Statement;
use uuid::Uuid;

use crate::error::BenchError;

/// Events per stream before a writer moves on to a new stream (a payment's life is short).
pub const STREAM_LENGTH: i64 = 10;
/// The event type written by every workload.
pub(crate) const EVENT_TYPE: &str = "PaymentCaptured";

/// The INSERT of the Rust ceiling: the events row shape, one row, no RETURNING.
const CEILING_INSERT: &str = "INSERT INTO bench_ceiling (event_id, tenant_id, stream_id, stream_version, event_type,
    schema_version, payload, metadata, recorded_at, dedupe_key, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// The INSERT of the batch ceiling: many rows of the events row shape in one statement
/// (the arrays unnested), prepared, no RETURNING.
const CEILING_BATCH_INSERT: &str = "INSERT INTO bench_ceiling (event_id, tenant_id, stream_id, stream_version,
    event_type, schema_version, payload, metadata, recorded_at, dedupe_key, prev_hash, hash)
    SELECT e, t, s, v, ty, 1, p, m, r, NULL, ph, h
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int8[], $5::text[], $6::jsonb[], $7::jsonb[],
                $8::timestamptz[], $9::bytea[], $10::bytea[]) AS u(e, t, s, v, ty, p, m, r, ph, h)";

/// Realistic event bodies: a PaymentCaptured with the metadata the API records.
#[derive(Debug, Clone)]
pub(crate) struct EventShape {
    pub tenant_id: Uuid,
}

impl EventShape {
    pub fn payload(&self, seq: u64) -> Value {
        json!({
            "payment_id": format!("pay_{}", Uuid::now_v7().simple()),
            "order_id": format!("ord_{}", Uuid::now_v7().simple()),
            "capture_id": format!("cap_{}", Uuid::now_v7().simple()),
            "amount": { "minor_units": 10_000 + seq % 90_000, "currency": "EUR" },
            "provider": "stripe",
            "provider_reference": format!("ch_3{}", &Uuid::new_v4().simple().to_string()[..24]),
            "final_capture": true,
            "captured_at": "2024-07-01T12:34:56.789012Z",
        })
    }

    pub fn metadata(&self) -> Value {
        json!({
            "actor": "api_key:key_live_7Hq2xLm9",
            "source": "api",
            "request_id": format!("req_{}", Uuid::new_v4().simple()),
            "correlation_id": Uuid::new_v4().to_string(),
            "causation_id": Uuid::new_v4().to_string(),
            "idempotency_key": Uuid::new_v4().to_string(),
        })
    }

    pub fn event(&self, seq: u64) -> NewEvent {
        NewEvent::new(EVENT_TYPE, 1, self.payload(seq)).with_metadata(self.metadata())
    }
}

/// The fixed row values of the ceiling inserts (same sizes as the ledger's).
#[derive(Debug, Clone)]
pub(crate) struct CeilingRow {
    pub tenant_id: Uuid,
    pub payload: Value,
    pub metadata: Value,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl CeilingRow {
    pub fn new(shape: &EventShape) -> CeilingRow {
        let mut prev_hash = [0u8; 32];
        let mut hash = [0u8; 32];
        prev_hash.copy_from_slice(&[Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat());
        hash.copy_from_slice(&[Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat());
        CeilingRow {
            tenant_id: shape.tenant_id,
            payload: shape.payload(0),
            metadata: shape.metadata(),
            prev_hash,
            hash,
        }
    }
}

/// Single-event appends, each its own transaction, `NoStream` then `Exact` on this writer's streams.
pub(crate) struct AppendWriter {
    pool: Pool,
    shape: Arc<EventShape>,
    prefix: String,
    stream: StreamKey,
    stream_no: u64,
    version: i64,
    seq: u64,
}

/// Batch appends across `streams` new streams with `events_per_stream` events each.
pub(crate) struct BatchWriter {
    pool: Pool,
    shape: Arc<EventShape>,
    prefix: String,
    streams: usize,
    events_per_stream: usize,
    batch_no: u64,
    seq: u64,
}

/// Plain single-row INSERTs into the ceiling table on one held connection.
pub(crate) struct InsertWriter {
    client: Object,
    statement: Statement,
    row: Arc<CeilingRow>,
    prefix: String,
    seq: u64,
}

/// Multi-row INSERTs into the ceiling table (the batch append's row count) on one held connection.
pub(crate) struct BatchInsertWriter {
    client: Object,
    statement: Statement,
    row: Arc<CeilingRow>,
    prefix: String,
    streams: usize,
    events_per_stream: usize,
    batch_no: u64,
}

pub(crate) enum Writer {
    Append(AppendWriter),
    Batch(BatchWriter),
    Insert(InsertWriter),
    BatchInsert(BatchInsertWriter),
}

impl Writer {
    pub fn append(pool: Pool, shape: Arc<EventShape>, prefix: String) -> Writer {
        let stream = StreamKey::new(shape.tenant_id, format!("{prefix}-s0"));
        Writer::Append(AppendWriter { pool, shape, prefix, stream, stream_no: 0, version: 0, seq: 0 })
    }

    pub fn batch(
        pool: Pool,
        shape: Arc<EventShape>,
        prefix: String,
        streams: usize,
        events_per_stream: usize,
    ) -> Writer {
        Writer::Batch(BatchWriter { pool, shape, prefix, streams, events_per_stream, batch_no: 0, seq: 0 })
    }

    /// Takes a connection from the pool and holds it, with the INSERT prepared.
    pub async fn insert(pool: &Pool, row: Arc<CeilingRow>, prefix: String) -> Result<Writer, BenchError> {
        let client = pool.get().await?;
        let statement = client.prepare(CEILING_INSERT).await?;
        Ok(Writer::Insert(InsertWriter { client, statement, row, prefix, seq: 0 }))
    }

    /// Takes a connection and holds it, with the multi-row INSERT prepared.
    pub async fn batch_insert(
        pool: &Pool,
        row: Arc<CeilingRow>,
        prefix: String,
        streams: usize,
        events_per_stream: usize,
    ) -> Result<Writer, BenchError> {
        let client = pool.get().await?;
        let statement = client.prepare(CEILING_BATCH_INSERT).await?;
        Ok(Writer::BatchInsert(BatchInsertWriter {
            client,
            statement,
            row,
            prefix,
            streams,
            events_per_stream,
            batch_no: 0,
        }))
    }

    /// One operation (one transaction). Returns how many events it wrote and how long the
    /// database call took (building the events is not timed).
    async fn step(&mut self) -> Result<(u64, Duration), BenchError> {
        match self {
            Writer::Append(w) => w.step().await,
            Writer::Batch(w) => w.step().await,
            Writer::Insert(w) => w.step().await,
            Writer::BatchInsert(w) => w.step().await,
        }
    }
}

impl AppendWriter {
    async fn step(&mut self) -> Result<(u64, Duration), BenchError> {
        if self.version % STREAM_LENGTH == 0 {
            self.stream_no += 1;
            self.version = 0;
            self.stream = StreamKey::new(self.shape.tenant_id, format!("{}-s{}", self.prefix, self.stream_no));
        }
        let expected = if self.version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(self.version) };
        self.seq += 1;
        let event = self.shape.event(self.seq);
        let started = Instant::now();
        let outcome = append(&self.pool, &self.stream, expected, vec![event]).await?;
        let latency = started.elapsed();
        self.version += 1;
        if outcome.version_of(&self.stream.stream_id) != Some(self.version) {
            return Err(BenchError::Check(format!(
                "append to {} wrote {:?}, expected version {}",
                self.stream.stream_id, outcome.events, self.version
            )));
        }
        Ok((1, latency))
    }
}

impl BatchWriter {
    async fn step(&mut self) -> Result<(u64, Duration), BenchError> {
        self.batch_no += 1;
        let mut items = Vec::with_capacity(self.streams);
        for s in 0..self.streams {
            let stream = StreamKey::new(self.shape.tenant_id, format!("{}-b{}-s{s}", self.prefix, self.batch_no));
            let mut events = Vec::with_capacity(self.events_per_stream);
            for _ in 0..self.events_per_stream {
                self.seq += 1;
                events.push(self.shape.event(self.seq));
            }
            items.push(BatchItem { stream, expected: ExpectedVersion::NoStream, events });
        }
        let expected_events = self.streams * self.events_per_stream;
        let started = Instant::now();
        let outcome = append_batch(&self.pool, items).await?;
        let latency = started.elapsed();
        if outcome.events.len() != expected_events {
            return Err(BenchError::Check(format!(
                "batch append wrote {} events, expected {expected_events}",
                outcome.events.len()
            )));
        }
        Ok((expected_events as u64, latency))
    }
}

impl InsertWriter {
    async fn step(&mut self) -> Result<(u64, Duration), BenchError> {
        self.seq += 1;
        let n = self.seq - 1;
        let stream_id = format!("{}-s{}", self.prefix, n / STREAM_LENGTH as u64);
        let stream_version = (n % STREAM_LENGTH as u64) as i64 + 1;
        let event_id = Uuid::now_v7();
        let recorded_at = SystemTime::now();
        let dedupe_key: Option<&str> = None;
        let row = &*self.row;
        let started = Instant::now();
        let inserted = self
            .client
            .execute(
                &self.statement,
                &[
                    &event_id,
                    &row.tenant_id,
                    &stream_id,
                    &stream_version,
                    &EVENT_TYPE,
                    &1i32,
                    &row.payload,
                    &row.metadata,
                    &recorded_at,
                    &dedupe_key,
                    &&row.prev_hash[..],
                    &&row.hash[..],
                ],
            )
            .await?;
        let latency = started.elapsed();
        if inserted != 1 {
            return Err(BenchError::Check(format!("INSERT wrote {inserted} rows, expected 1")));
        }
        Ok((1, latency))
    }
}

impl BatchInsertWriter {
    async fn step(&mut self) -> Result<(u64, Duration), BenchError> {
        self.batch_no += 1;
        let n = self.streams * self.events_per_stream;
        let row = &*self.row;
        let recorded_at = SystemTime::now();
        let mut event_ids = Vec::with_capacity(n);
        let mut stream_ids = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        for s in 0..self.streams {
            for v in 1..=self.events_per_stream {
                event_ids.push(Uuid::now_v7());
                stream_ids.push(format!("{}-b{}-s{s}", self.prefix, self.batch_no));
                versions.push(v as i64);
            }
        }
        let tenants = vec![row.tenant_id; n];
        let types = vec![EVENT_TYPE; n];
        let payloads = vec![&row.payload; n];
        let metadatas = vec![&row.metadata; n];
        let recorded = vec![recorded_at; n];
        let prev_hashes = vec![&row.prev_hash[..]; n];
        let hashes = vec![&row.hash[..]; n];
        let started = Instant::now();
        let inserted = self
            .client
            .execute(
                &self.statement,
                &[
                    &event_ids,
                    &tenants,
                    &stream_ids,
                    &versions,
                    &types,
                    &payloads,
                    &metadatas,
                    &recorded,
                    &prev_hashes,
                    &hashes,
                ],
            )
            .await?;
        let latency = started.elapsed();
        if inserted != n as u64 {
            return Err(BenchError::Check(format!("batch INSERT wrote {inserted} rows, expected {n}")));
        }
        Ok((inserted, latency))
    }
}

/// When a measured interval ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PhaseLimit {
    /// Each writer starts operations until this much time has passed.
    Duration(Duration),
    /// Each writer performs exactly this many operations.
    Operations(u64),
}

/// What one writer did in one phase.
#[derive(Debug)]
pub(crate) struct WriterStats {
    pub warmup_events: u64,
    pub ops: u64,
    pub events: u64,
    pub started: Instant,
    pub ended: Instant,
    pub latencies_us: Vec<u64>,
    pub samples_dropped: bool,
}

/// Runs one writer: waits for the common start, warms up, then measures.
pub(crate) async fn drive(
    mut writer: Writer,
    limit: PhaseLimit,
    warmup: Duration,
    start: Arc<Barrier>,
    max_samples: usize,
) -> Result<WriterStats, BenchError> {
    start.wait().await;
    let warm_until = Instant::now() + warmup;
    let mut warmup_events = 0;
    while Instant::now() < warm_until {
        warmup_events += writer.step().await?.0;
    }
    let started = Instant::now();
    let mut ops = 0;
    let mut events = 0;
    let mut latencies_us = Vec::new();
    let mut samples_dropped = false;
    loop {
        let done = match limit {
            PhaseLimit::Duration(duration) => started.elapsed() >= duration,
            PhaseLimit::Operations(count) => ops >= count,
        };
        if done {
            break;
        }
        let (written, latency) = writer.step().await?;
        ops += 1;
        events += written;
        if latencies_us.len() < max_samples {
            latencies_us.push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        } else {
            samples_dropped = true;
        }
    }
    Ok(WriterStats { warmup_events, ops, events, started, ended: Instant::now(), latencies_us, samples_dropped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_and_metadata_are_realistic_sizes_and_constant_in_size() {
        let shape = EventShape { tenant_id: Uuid::new_v4() };
        let sizes: Vec<(usize, usize)> = (0..50u64)
            .map(|seq| {
                let payload = serde_json::to_string(&shape.payload(seq)).unwrap().len();
                let metadata = serde_json::to_string(&shape.metadata()).unwrap().len();
                (payload, metadata)
            })
            .collect();
        let (payload, metadata) = sizes[0];
        assert!((280..=340).contains(&payload), "payload is {payload} bytes");
        assert!((150..=300).contains(&metadata), "metadata is {metadata} bytes");
        assert!(sizes.iter().all(|&s| s == (payload, metadata)), "{sizes:?}");
    }
}
