//! `payledger audit export`: a tenant's raw events, in the gap-free read order, as NDJSON
//! or CSV, streamed batch by batch to a file or stdout (memory stays flat). The hash chains
//! are checked by `payledger verify --chains-only`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use payledger_projector::checkpoint_of_position;
use payledger_store::{read_all, Checkpoint, ReadAllFilter, READ_MAX_BATCH};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write a tenant's events (or one stream's) in read order as NDJSON or CSV.
    Export(ExportArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Ndjson,
    Csv,
}

#[derive(Debug, Args)]
#[command(after_help = "Events committed behind a still running transaction are not exported yet (the \
    read is gap-free); the summary on stderr gives the last position, to continue with --starting-after.")]
pub struct ExportArgs {
    /// Tenant name or id.
    #[arg(long)]
    pub tenant: String,
    /// Only this stream, e.g. payment-0190...
    #[arg(long)]
    pub stream: Option<String>,
    /// Only this event type, e.g. PaymentCaptured.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Only events recorded at or after this time (RFC 3339).
    #[arg(long)]
    pub recorded_from: Option<DateTime<Utc>>,
    /// Only events recorded before this time (RFC 3339).
    #[arg(long)]
    pub recorded_before: Option<DateTime<Utc>>,
    /// Continue after the event at this position (the last one of a previous export).
    #[arg(long)]
    pub starting_after: Option<i64>,
    /// ndjson (one JSON event a line) or csv.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: ExportFormat,
    /// Write here instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Events read per database round trip.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(i64).range(1..=READ_MAX_BATCH))]
    pub batch_size: i64,
}

pub async fn run(database_url: &str, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Export(args) => export(database_url, args).await,
    }
}

async fn export(database_url: &str, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let client = pool.get().await?;
    let tenant_id = super::tenants::resolve_tenant(&**client, &args.tenant).await?.id;
    let mut after = match args.starting_after {
        Some(position) => checkpoint_of_position(&**client, Some(tenant_id), position)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the tenant has no event at position {position}"))?,
        None => Checkpoint::START,
    };
    let filter = ReadAllFilter {
        tenant_id: Some(tenant_id),
        stream_id: args.stream.clone(),
        event_type: args.event_type.clone(),
        recorded_from: args.recorded_from,
        recorded_before: args.recorded_before,
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut exported: u64 = 0;
    let mut last_position: Option<i64> = None;
    loop {
        let events = read_all(&**client, after, &filter, args.batch_size).await?;
        let chunk = match args.format {
            ExportFormat::Csv => payledger_service::export::csv_rows(&events, exported == 0)?,
            ExportFormat::Ndjson => payledger_service::export::ndjson_rows(&events),
        };
        out.write_all(&chunk)?;
        exported += events.len() as u64;
        if let Some(last) = events.last() {
            after = last.checkpoint();
            last_position = Some(last.global_position);
        }
        if (events.len() as i64) < args.batch_size {
            break;
        }
    }
    out.flush()?;
    eprintln!("{}", json!({ "object": "audit_export", "events": exported, "last_position": last_position }));
    Ok(ExitCode::SUCCESS)
}
