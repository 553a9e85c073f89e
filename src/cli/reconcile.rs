//! `payledger reconcile`: the reconciliation of a day or a period, for finance's cron job.

use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::Args;
use payledger_projector::read::ReadModels;
use payledger_service::reconciliation::{self, Period, LAG_DAYS_DEFAULT};
use serde_json::json;

#[derive(Debug, Args)]
#[command(after_help = "Exit status: 0 every item matched; 1 an exception remains (amount_mismatch, \
    missing_in_ledger, ...); other failures exit 1 with an error on stderr.")]
pub struct ReconcileArgs {
    /// Tenant name or id.
    #[arg(long)]
    pub tenant: String,
    /// One day (the tenant's time zone); default yesterday (UTC).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub date: Option<NaiveDate>,
    /// First day of a period (inclusive).
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last day of a period (inclusive).
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Only this provider (stripe, adyen, generic).
    #[arg(long)]
    pub provider: Option<String>,
    /// Days after a ledger fact by which the reports must have settled it.
    #[arg(long, env = "PAYLEDGER_RECONCILIATION_LAG_DAYS", default_value_t = LAG_DAYS_DEFAULT)]
    pub lag_days: u32,
    /// Print the days and every exception as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(database_url: &str, args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    super::require_migrated(database_url).await?;
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let client = pool.get().await?;
    let tenant = super::tenants::resolve_tenant(&**client, &args.tenant).await?;
    let yesterday = Utc::now().date_naive().pred_opt().unwrap_or(NaiveDate::MIN);
    let (from, to) = match (args.date, args.from, args.to) {
        (_, Some(from), Some(to)) => (from, to),
        (Some(date), _, _) => (date, date),
        _ => (yesterday, yesterday),
    };
    let provider = args.provider.as_deref().map(str::parse).transpose().map_err(|e| anyhow::anyhow!("{e}"))?;
    let period = Period { tenant_id: tenant.id, provider, currency: None, from, to, lag_days: args.lag_days };
    reconciliation::check_period(&period)?;
    let items = match ReadModels::live(&**client).await? {
        Some(models) => reconciliation::items(&**client, models.schema(), &period).await?,
        None => Vec::new(),
    };
    let days = reconciliation::days(&items);
    let exceptions: Vec<_> = items.iter().filter(|item| item.status.is_exception()).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "days": days, "exceptions": exceptions }))?);
    } else {
        print_summary(&days, exceptions.len());
    }
    Ok(if exceptions.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_summary(days: &[reconciliation::Day], exceptions: usize) {
    println!("date        provider  currency  items  exceptions  report_net  ledger_net  difference");
    for day in days {
        let items: u64 = day.counts.values().sum();
        println!(
            "{}  {:<8}  {:<8}  {:>5}  {:>10}  {:>10}  {:>10}  {:>10}",
            day.date,
            day.provider.as_str(),
            day.currency,
            items,
            day.exceptions,
            day.report_net_minor,
            day.ledger_net_minor,
            day.difference_minor
        );
        for (status, count) in day.counts.iter().filter(|(s, n)| **s != "matched" && **n > 0) {
            println!("            {status}: {count}");
        }
    }
    if exceptions == 0 {
        println!("everything matched");
    } else {
        println!("{exceptions} exception(s); `--json` lists them");
    }
}
