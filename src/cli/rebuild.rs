//! `payledger rebuild`: replay the log into fresh read-model tables and swap them live,
//! without downtime, with a progress bar (events done, rate, ETA).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use payledger_projector::{RebuildOptions, RebuildPhase, RebuildProgress, RebuildReport};

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Events applied per transaction.
    #[arg(long, default_value_t = 2_000)]
    pub batch_size: i64,

    /// Longest the replay waits, without progress, for committed events that an older
    /// running transaction holds back; past it the rebuild goes on and the live projector
    /// applies them after the swap.
    #[arg(long, default_value_t = 60_000)]
    pub held_back_max_wait_ms: u64,

    /// No progress bar (the report is still printed).
    #[arg(long)]
    pub quiet: bool,
}

pub async fn run(database_url: &str, args: RebuildArgs) -> anyhow::Result<ExitCode> {
    super::require_migrated(database_url).await?;
    let options = RebuildOptions {
        batch_size: args.batch_size,
        held_back_max_wait_ms: args.held_back_max_wait_ms,
        ..RebuildOptions::default()
    };
    let report = rebuild_with_progress(database_url, options, args.quiet).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs a rebuild with a progress bar on stderr (also used by `verify --repair`).
pub async fn rebuild_with_progress(
    database_url: &str,
    options: RebuildOptions,
    quiet: bool,
) -> anyhow::Result<RebuildReport> {
    let bar = ProgressBar::new(0);
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {human_pos}/{human_len} events {per_sec} ETA {eta} {msg}",
        )?
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let report = payledger_projector::rebuild(database_url, options, |progress| show(&bar, progress)).await;
    match &report {
        Ok(report) => bar.finish_with_message(format!("v{} live", report.version)),
        Err(_) => bar.abandon_with_message("failed"),
    }
    Ok(report?)
}

fn show(bar: &ProgressBar, progress: &RebuildProgress) {
    bar.set_length(progress.events_total);
    bar.set_position(progress.events_done);
    let phase = match progress.phase {
        RebuildPhase::Replaying => "replaying",
        RebuildPhase::Indexing => "indexing",
        RebuildPhase::CatchingUp => "catching up",
        RebuildPhase::Swapping => "swapping",
        RebuildPhase::Done => "done",
    };
    bar.set_message(format!("v{} {phase}", progress.version));
}
