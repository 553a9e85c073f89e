use payledger_store::StoreError;

/// Why a benchmark run failed. None of these is a panic.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid benchmark options: {0}")]
    InvalidOptions(String),

    #[error("event store: {0}")]
    Store(#[from] StoreError),

    #[error("database: {}", describe_db_error(.0))]
    Db(#[from] tokio_postgres::Error),

    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),

    #[error("pgbench: {0}")]
    Pgbench(String),

    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),

    #[error("a benchmark writer failed: {0}")]
    Task(String),

    #[error("benchmark set-up: {0}")]
    Setup(String),

    #[error("benchmark self-check failed: {0}")]
    Check(String),

    #[error("the benchmark database {database} could not be dropped: {reason}")]
    Cleanup { database: String, reason: String },
}

/// tokio-postgres prints only "db error" for server errors; show the server's message too.
fn describe_db_error(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => err.to_string(),
    }
}
