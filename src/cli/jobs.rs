//! `payledger jobs list|watch`: the jobs servers run (docs/JOBS.md), read from the database.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use payledger_core::job::JobStatus;
use payledger_core::JobId;
use payledger_service::jobs::{find_job, list_jobs, Job, JOBS_PAGE_MAX};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// A tenant's jobs, newest first, one JSON object per line.
    List(ListArgs),
    /// Follow a job with a progress bar until it ends; prints the job.
    #[command(after_help = "Exit status: 0 the job succeeded; 1 it failed or was cancelled.")]
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The tenant (its name or id).
    #[arg(long)]
    pub tenant: String,
    /// At most this many (1 to 100).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=JOBS_PAGE_MAX))]
    pub limit: i64,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The job's id (as `POST ...` answered it, or `jobs list` shows it).
    pub id: uuid::Uuid,
    /// No progress bar (the job is still printed).
    #[arg(long)]
    pub quiet: bool,
}

/// How often `watch` reads the job.
const WATCH_POLL: Duration = Duration::from_millis(250);

pub async fn run(database_url: &str, command: JobsCommand) -> anyhow::Result<ExitCode> {
    super::require_migrated(database_url).await?;
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    match command {
        JobsCommand::List(args) => {
            let client = pool.get().await?;
            let tenant = super::tenants::resolve_tenant(&**client, &args.tenant).await?;
            let (jobs, _) = list_jobs(&**client, tenant.id, args.limit, None).await?;
            for job in &jobs {
                println!("{}", summary(job));
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Watch(args) => watch(&pool, JobId::from(args.id), args.quiet).await,
    }
}

async fn watch(pool: &deadpool_postgres::Pool, id: JobId, quiet: bool) -> anyhow::Result<ExitCode> {
    let bar = ProgressBar::new(0);
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")?);
    bar.enable_steady_tick(Duration::from_millis(200));
    let job = loop {
        let job = {
            let client = pool.get().await?;
            find_job(&**client, id).await?.ok_or_else(|| anyhow::anyhow!("no job {id}"))?
        };
        bar.set_length(job.progress_total.unwrap_or(0).max(0) as u64);
        bar.set_position(job.progress_done.max(0) as u64);
        bar.set_message(format!("{} {}", job.kind.as_str(), job.status.as_str()));
        if job.status.is_finished() {
            break job;
        }
        tokio::time::sleep(WATCH_POLL).await;
    };
    bar.finish();
    println!("{}", serde_json::to_string_pretty(&summary(&job))?);
    Ok(if job.status == JobStatus::Succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn summary(job: &Job) -> serde_json::Value {
    json!({
        "id": job.id,
        "tenant_id": job.tenant_id,
        "kind": job.kind.as_str(),
        "status": job.status.as_str(),
        "progress": { "done": job.progress_done, "total": job.progress_total },
        "result": job.result,
        "error": job.error,
        "requested_by": job.requested_by,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    })
}
