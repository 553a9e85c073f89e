//! `payledger verify`: the events' hash chains and seals, and the read-models against a fresh fold.

use std::process::ExitCode;

use clap::Args;
use payledger_projector::{RebuildOptions, VerifyOptions, VerifyReport};
use payledger_store::seal::SealReport;
use serde_json::json;

#[derive(Debug, Args)]
#[command(after_help = "Exit status: 0 all is well; 1 a chain or a seal is broken or the read-models differ \
    from a fresh fold; 2 the read-models differed and --repair rebuilt them (verified clean afterwards).")]
pub struct VerifyArgs {
    /// Only this tenant's streams and read-models (tenant name or id).
    #[arg(long)]
    pub tenant: Option<String>,

    /// When the read-models differ, rebuild them, then verify again.
    #[arg(long)]
    pub repair: bool,

    /// Check the hash chains and the seals only (not the read-models).
    #[arg(long)]
    pub chains_only: bool,

    /// Differences listed in full (all are counted).
    #[arg(long, default_value_t = 1_000)]
    pub max_differences: usize,
}

/// Walks every hash chain and compares the read-models with a fresh fold; prints a JSON
/// report on stdout and each difference on stderr.
pub async fn run(database_url: &str, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    // The chain and seal walks are one scan each over the whole history: no statement timeout
    // (a 5 M-event history took longer than the default 30 s; stop a run with Ctrl-C).
    let options = payledger_store::PoolOptions { statement_timeout_ms: 0, ..Default::default() };
    let pool = payledger_store::connect_pool(database_url, &options)?;
    let (tenant_id, chains) = {
        let client = pool.get().await?;
        let tenant_id = match &args.tenant {
            Some(tenant) => Some(super::tenants::resolve_tenant(&**client, tenant).await?.id),
            None => None,
        };
        (tenant_id, payledger_store::verify_chains(&**client, tenant_id).await?)
    };
    for link in &chains.broken {
        eprintln!(
            "broken chain: {} v{} (position {}): {:?}",
            link.stream_id, link.stream_version, link.global_position, link.fault
        );
    }
    super::require_migrated(database_url).await?;
    let seals = payledger_store::seal::verify_seals(&pool, tenant_id).await?;
    print_seals(&seals);
    let history_intact = chains.is_intact() && seals.is_intact();
    if args.chains_only {
        println!("{}", serde_json::to_string_pretty(&json!({ "chains": chains, "seals": seals }))?);
        return Ok(if history_intact { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }

    let options = VerifyOptions { tenant_id, max_differences: args.max_differences, ..Default::default() };
    let read_models = payledger_projector::verify(database_url, &options).await?;
    print_differences(&read_models);

    let mut repair = None;
    if args.repair && !read_models.is_clean() {
        eprintln!("read-models differ from a fresh fold: rebuilding");
        let rebuilt = super::rebuild::rebuild_with_progress(database_url, RebuildOptions::default(), false).await?;
        let after = payledger_projector::verify(database_url, &options).await?;
        print_differences(&after);
        repair = Some((rebuilt, after));
    }

    let report = json!({
        "chains": chains,
        "seals": seals,
        "read_models": read_models,
        "repair": repair.as_ref().map(|(rebuilt, after)| json!({ "rebuild": rebuilt, "verify": after })),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    let code = match (&repair, history_intact, read_models.is_clean()) {
        (_, false, _) => ExitCode::FAILURE,
        (None, true, true) => ExitCode::SUCCESS,
        (None, true, false) => ExitCode::FAILURE,
        (Some((_, after)), true, _) if after.is_clean() => ExitCode::from(2),
        (Some(_), true, _) => ExitCode::FAILURE,
    };
    Ok(code)
}

/// Every broken seal, the first named as such with the range it covers.
fn print_seals(report: &SealReport) {
    for (i, b) in report.broken.iter().enumerate() {
        let which = if i == 0 { "first broken seal" } else { "broken seal" };
        eprintln!(
            "{which}: #{} covering (tx {}, position {}] to (tx {}, position {}], {} events: {:?}: {}",
            b.seal_number, b.from.tx_id, b.from.position, b.to.tx_id, b.to.position, b.event_count, b.fault, b.detail
        );
    }
    match (&report.latest_seal_number, &report.latest_seal_hash) {
        (Some(n), Some(hash)) => eprintln!(
            "seals: {} checked, {} events sealed, {} not yet; newest #{n} {hash}",
            report.seals_checked, report.events_sealed, report.unsealed_events
        ),
        _ => eprintln!("seals: none yet; {} events not yet sealed", report.unsealed_events),
    }
}

fn print_differences(report: &VerifyReport) {
    for d in &report.differences {
        let tenant = d.tenant_id.map(|t| t.to_string()).unwrap_or_default();
        eprintln!(
            "{} {:?} tenant={tenant} {} field={} expected={} actual={}",
            d.table, d.kind, d.key, d.field, d.expected, d.actual
        );
    }
    for p in &report.parked_streams {
        eprintln!(
            "parked stream: tenant={} {} from position {} ({} v{}): {}",
            p.tenant_id, p.stream_id, p.event_position, p.event_type, p.stream_version, p.reason
        );
    }
    if report.truncated {
        eprintln!("... {} differences in all", report.differences_total);
    }
    eprintln!(
        "read-models v{} at position {}: {} difference(s)",
        report.live_version, report.checkpoint.position, report.differences_total
    );
}
