//! `payledger settlements import --tenant T --provider P FILE [--json]`: the same import as
//! `POST /v1/settlement-reports`. A refused file prints every problem and exits 1.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use payledger_core::payment::Provider;
use payledger_service::settlement::{self, Imported, Origin};
use payledger_service::ServiceError;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum SettlementsCommand {
    /// Import a gateway's settlement report (CSV) for a tenant.
    Import {
        /// Tenant name or id.
        #[arg(long)]
        tenant: String,
        /// The report's format: stripe, adyen or generic.
        #[arg(long)]
        provider: String,
        /// The report file.
        file: std::path::PathBuf,
        /// Largest file accepted, in bytes (as the server's limit).
        #[arg(long, env = "PAYLEDGER_SETTLEMENT_MAX_BYTES", default_value_t = payledger_api::SETTLEMENT_MAX_BYTES_DEFAULT)]
        max_bytes: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(database_url: &str, command: SettlementsCommand) -> anyhow::Result<ExitCode> {
    let SettlementsCommand::Import { tenant, provider, file, max_bytes, json } = command;
    let provider: Provider = provider.parse()?;
    let size = std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?.len();
    if size > max_bytes as u64 {
        anyhow::bail!("{} is {size} bytes; settlement reports are limited to {max_bytes} bytes", file.display());
    }
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    super::require_migrated(database_url).await?;
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let tenant = super::tenants::resolve_tenant(&**pool.get().await?, &tenant).await?;
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let origin = Origin { source: "cli", actor: format!("cli:{user}"), request_id: None };
    match settlement::import(&pool, tenant.id, provider, &bytes, &origin).await {
        Ok(imported) => {
            print_imported(&imported, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(ServiceError::SettlementReportRefused { problems }) => {
            if json {
                println!("{}", json!({"error": "invalid_settlement_report", "details": problems}));
            } else {
                eprintln!("the settlement report was refused: {} problem(s)", problems.len());
                for p in &problems {
                    let column = p.column.as_deref().unwrap_or("-");
                    eprintln!("line {}\tcolumn {column}\t{}", p.line, p.reason);
                }
            }
            Ok(ExitCode::FAILURE)
        }
        Err(other) => Err(other.into()),
    }
}

fn print_imported(imported: &Imported, json: bool) -> anyhow::Result<()> {
    let r = &imported.report;
    if json {
        let value = json!({
            "id": r.id.as_uuid(), "object": "settlement_report", "provider": r.provider.as_str(),
            "sha256": r.sha256, "size_bytes": r.size_bytes, "lines": r.line_count,
            "duplicate_lines": r.duplicate_lines, "period": {"from": r.period_from, "to": r.period_to},
            "received_at": r.received_at, "duplicate": imported.duplicate,
        });
        println!("{}", serde_json::to_string(&value)?);
    } else {
        let what = if imported.duplicate { "already imported" } else { "imported" };
        println!(
            "settlement report {} {what}: {} lines ({} duplicate), sha256 {}",
            r.id.as_uuid(),
            r.line_count,
            r.duplicate_lines,
            r.sha256
        );
    }
    Ok(())
}
