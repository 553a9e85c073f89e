//! The plain single-row INSERT ceiling of the server at one concurrency, measured the way
//! `bench store` measures it (same row shape, same Rust harness, same pgbench script), for
//! the other benchmarks to compare against in the same run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use payledger_store::Pool;
use uuid::Uuid;

use crate::error::BenchError;
use crate::pgbench::PgbenchLimit;
use crate::store::{
    checkpoint, pgbench_failures_note, run_pgbench, CeilingRow, EventShape, Measurement, PhaseContext, PhaseLimit,
    Workload, Writer,
};

/// What to measure.
pub(crate) struct CeilingSpec<'a> {
    pub pool: &'a Pool,
    pub bench_url: &'a str,
    pub writers: usize,
    pub limit: PhaseLimit,
    pub warmup: Duration,
    /// `None`: pgbench skipped.
    pub pgbench: Option<PathBuf>,
}

/// The Rust and (when given) pgbench measurements, plus notes.
pub(crate) async fn measure(spec: &CeilingSpec<'_>) -> Result<(Vec<Measurement>, Vec<String>), BenchError> {
    let control = crate::store::connect(spec.bench_url).await?;
    control.batch_execute("CREATE TABLE IF NOT EXISTS bench_ceiling (LIKE events INCLUDING ALL)").await?;
    let mut notes = Vec::new();
    let mut checkpoints = true;
    let shape = Arc::new(EventShape { tenant_id: Uuid::new_v4() });
    let row = Arc::new(CeilingRow::new(&shape));
    let mut measurements = Vec::new();

    checkpoint(&control, &mut checkpoints, &mut notes).await;
    let mut list = Vec::with_capacity(spec.writers);
    for w in 0..spec.writers {
        list.push(Writer::insert(spec.pool, row.clone(), format!("ceiling-w{w}")).await?);
    }
    let phase = PhaseContext { limit: spec.limit, warmup: spec.warmup };
    let (m, _) = phase.run(Workload::CeilingInsertRust, 1, list, &mut notes).await?;
    measurements.push(m);

    if let Some(program) = &spec.pgbench {
        let work_dir =
            std::env::temp_dir().join(format!("payledger-ceiling-{}", &Uuid::new_v4().simple().to_string()[..12]));
        std::fs::create_dir(&work_dir)?;
        let result = pgbench(spec, program, &row, &work_dir, &control, &mut checkpoints, &mut notes).await;
        if let Err(e) = std::fs::remove_dir_all(&work_dir) {
            tracing::warn!(dir = %work_dir.display(), error = %e, "cannot remove the work directory");
        }
        measurements.push(result?);
    }
    Ok((measurements, notes))
}

async fn pgbench(
    spec: &CeilingSpec<'_>,
    program: &Path,
    row: &CeilingRow,
    work_dir: &Path,
    control: &tokio_postgres::Client,
    checkpoints: &mut bool,
    notes: &mut Vec<String>,
) -> Result<Measurement, BenchError> {
    let script = work_dir.join("ceiling.sql");
    std::fs::write(&script, crate::pgbench::CEILING_SCRIPT)?;
    let limit = match spec.limit {
        PhaseLimit::Duration(d) => PgbenchLimit::Seconds(u64::try_from(d.as_millis().div_ceil(1_000)).unwrap_or(1)),
        PhaseLimit::Operations(n) => PgbenchLimit::TransactionsPerClient(n),
    };
    checkpoint(control, checkpoints, notes).await;
    let m = run_pgbench(program, spec.bench_url, spec.writers, limit, &script, 1, row, work_dir).await?;
    if let Some(note) = pgbench_failures_note(&m) {
        notes.push(note);
    }
    Ok(m.measurement)
}

/// The pgbench to use, or a note why there is none.
pub(crate) fn find_pgbench(skip: bool, path: Option<PathBuf>, notes: &mut Vec<String>) -> Option<PathBuf> {
    if skip {
        notes.push("pgbench ceiling skipped on request".to_owned());
        return None;
    }
    let found = path.or_else(crate::pgbench::find);
    if found.is_none() {
        notes.push(
            "pgbench not found (install postgresql-contrib or postgresql-client): pgbench ceiling skipped".into(),
        );
    }
    found
}
