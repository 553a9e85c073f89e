//! Runs the store benchmark without the `payledger` binary:
//!
//! ```text
//! scripts/pg.sh with cargo run --release -p payledger-bench --example store -- [--json] [--json-file PATH] [--duration-ms N]
//!     [--transactions-per-writer N] [--warmup-ms N] [--writers 1,4,16] [--batch-writers 1,4] [--skip-pgbench]
//! ```

use payledger_bench::store::{run, StoreBenchOptions};

fn parse_list(value: &str) -> Result<Vec<usize>, String> {
    if value.trim().is_empty() || value == "none" {
        return Ok(Vec::new());
    }
    value.split(',').map(|v| v.trim().parse::<usize>().map_err(|e| format!("{value:?}: {e}"))).collect()
}

struct Output {
    json: bool,
    json_file: Option<String>,
}

fn parse_args(args: &[String], opts: &mut StoreBenchOptions) -> Result<Output, String> {
    let mut json = false;
    let mut json_file = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{arg} {v:?}: {e}"));
        match arg.as_str() {
            "--json" => json = true,
            "--json-file" => json_file = Some(value()?),
            "--skip-pgbench" => opts.skip_pgbench = true,
            "--duration-ms" => opts.duration_ms = number(value()?)?,
            "--warmup-ms" => opts.warmup_ms = number(value()?)?,
            "--transactions-per-writer" => opts.transactions_per_writer = Some(number(value()?)?),
            "--writers" => opts.writers = parse_list(&value()?)?,
            "--batch-writers" => opts.batch_writers = parse_list(&value()?)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Output { json, json_file })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter("info").init();
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL is not set (use scripts/pg.sh with ...)");
        return std::process::ExitCode::FAILURE;
    };
    let mut opts = StoreBenchOptions::new(url);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let output = match parse_args(&args, &mut opts) {
        Ok(output) => output,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(opts).await {
        Ok(report) => {
            let text = match serde_json::to_string_pretty(&report) {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("cannot serialize the report: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            if let Some(path) = &output.json_file {
                if let Err(e) = std::fs::write(path, format!("{text}\n")) {
                    eprintln!("cannot write {path}: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
            if output.json {
                println!("{text}");
            } else {
                print!("{report}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
