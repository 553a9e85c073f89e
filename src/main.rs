//! The `payledger` command line: serve, migrate, verify, ...

mod cli;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.log_json);
    match cli::run(args).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("payledger: {}", cli::error_chain(&err));
            std::process::ExitCode::FAILURE
        }
    }
}
