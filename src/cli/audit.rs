//! `payledger audit`: export a tenant's raw events in the gap-free read order with the seals
//! among them (NDJSON or CSV, streamed: memory stays flat), seal now, list seals.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use payledger_projector::checkpoint_of_position;
use payledger_service::export::{csv_lines, ndjson_lines, seal_json, ExportLine, ExportReader};
use payledger_service::sealer::seal_round;
use payledger_store::seal::{latest_seal, list_seals, SealPolicy};
use payledger_store::{Checkpoint, ReadAllFilter, READ_MAX_BATCH};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write a tenant's events (or one stream's) in read order as NDJSON or CSV, with the seals
    /// among them (docs/AUDIT.md); check it with `python3 tools/verify_export.py FILE`.
    Export(ExportArgs),
    /// Seal the events that wait unsealed now (the server's sealer does this on its own).
    Seal(SealArgs),
    /// List the seals, oldest first, as JSON lines; --latest prints the newest seal's hash.
    Seals(SealsArgs),
}

#[derive(Debug, Args)]
pub struct SealArgs {
    /// Most events one seal covers.
    #[arg(long, default_value_t = payledger_service::sealer::SEAL_EVERY_EVENTS_DEFAULT,
          value_parser = clap::value_parser!(i64).range(1..=payledger_store::seal::SEAL_MAX_EVENTS))]
    pub every_events: i64,
}

#[derive(Debug, Args)]
#[command(after_help = "The newest seal's hash commits to the whole history before it: publish it \
    (send it to the auditor, a ticket, a transparency log), and check an export against it with \
    `python3 tools/verify_export.py FILE --expect-seal HASH`.")]
pub struct SealsArgs {
    /// Print only the newest seal's hash (nothing, and exit 1, when there is no seal).
    #[arg(long)]
    pub latest: bool,
    /// Seals after this number.
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// Most seals listed.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub limit: i64,
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
        AuditCommand::Seal(args) => seal(database_url, args).await,
        AuditCommand::Seals(args) => seals(database_url, args).await,
    }
}

async fn export(database_url: &str, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let client = pool.get().await?;
    let tenant_id = super::tenants::resolve_tenant(&**client, &args.tenant).await?.id;
    let after = match args.starting_after {
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
    let mut reader = ExportReader::start(&**client, filter, after, args.batch_size, u64::MAX).await?;
    let (mut exported, mut sealed, mut first) = (0u64, 0u64, true);
    let mut last_position: Option<i64> = None;
    while !reader.is_done() {
        let lines = reader.next_chunk(&**client).await?;
        let chunk = match args.format {
            ExportFormat::Csv => csv_lines(&lines, first, reader.livemode())?,
            ExportFormat::Ndjson => ndjson_lines(&lines, reader.livemode()),
        };
        first = false;
        out.write_all(&chunk)?;
        for line in &lines {
            match line {
                ExportLine::Event(e) => {
                    exported += 1;
                    last_position = Some(e.event.global_position);
                }
                ExportLine::Seal(_) => sealed += 1,
            }
        }
    }
    out.flush()?;
    eprintln!(
        "{}",
        json!({ "object": "audit_export", "events": exported, "seals": sealed, "last_position": last_position })
    );
    Ok(ExitCode::SUCCESS)
}

async fn seal(database_url: &str, args: SealArgs) -> anyhow::Result<ExitCode> {
    super::require_migrated(database_url).await?;
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let policy = SealPolicy::now(args.every_events);
    let mut written = 0usize;
    // The sealer's rounds until one ends with a partial seal: under steady traffic it ends.
    loop {
        let seals = seal_round(&pool, policy).await?;
        for seal in &seals {
            println!("{}", seal_json(seal));
        }
        written += seals.len();
        if !seals.last().is_some_and(|s| policy.is_full(s)) {
            break;
        }
    }
    eprintln!("{}", json!({ "object": "audit_seal", "seals_written": written }));
    Ok(ExitCode::SUCCESS)
}

async fn seals(database_url: &str, args: SealsArgs) -> anyhow::Result<ExitCode> {
    super::require_migrated(database_url).await?;
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let client = pool.get().await?;
    if args.latest {
        return Ok(match latest_seal(&**client).await? {
            Some(seal) => {
                println!("{}", seal_json(&seal)["hash"].as_str().unwrap_or_default());
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("no seal yet: run `payledger audit seal` (or a server) once events exist");
                ExitCode::FAILURE
            }
        });
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for seal in list_seals(&**client, args.after, args.limit).await? {
        writeln!(out, "{}", seal_json(&seal))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
