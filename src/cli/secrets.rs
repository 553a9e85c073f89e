//! `payledger secrets generate-master-key|status|rotate-master`, and the master key every
//! command that seals or opens webhook secrets is given (docs/SECRETS.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use payledger_service::secrets::{rotate_master, MasterKey};
use serde_json::json;

/// The environment variable holding the key itself (never a flag: argv is visible to
/// every user of the machine).
pub const MASTER_KEY_ENV: &str = "PAYLEDGER_MASTER_KEY";

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random master key (64 hexadecimal characters), to store where the
    /// server reads it (PAYLEDGER_MASTER_KEY or a file named by PAYLEDGER_MASTER_KEY_FILE).
    GenerateMasterKey,
    /// How many webhook secrets are sealed, under which master key id, and how many are
    /// still in clear.
    Status,
    /// Re-seal every webhook secret under a new master key, in one transaction. The current
    /// key is the one given as usual; restart the servers with the new one afterwards.
    RotateMaster {
        /// File holding the new key (64 hexadecimal characters).
        #[arg(long)]
        new_master_key_file: PathBuf,
    },
}

/// The key given by PAYLEDGER_MASTER_KEY or by `--master-key-file` / PAYLEDGER_MASTER_KEY_FILE.
pub fn master_key(file: Option<&Path>) -> anyhow::Result<Option<MasterKey>> {
    let value = std::env::var(MASTER_KEY_ENV).ok().filter(|v| !v.is_empty());
    MasterKey::from_value_or_file(value.as_deref(), file).context("the master key")
}

/// Commands that need no database.
pub fn generate_master_key() -> ExitCode {
    println!("{}", MasterKey::generate().to_hex().as_str());
    ExitCode::SUCCESS
}

/// The key is read only by the commands that use it: `status` still runs (and says so) when
/// the key given is unusable.
pub async fn run(
    database_url: &str,
    master_key_file: Option<&Path>,
    command: SecretsCommand,
) -> anyhow::Result<ExitCode> {
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    match command {
        SecretsCommand::GenerateMasterKey => return Ok(generate_master_key()),
        SecretsCommand::Status => {
            let client = pool.get().await?;
            let rows = client
                .query("SELECT master_key_id, count(*) FROM webhook_secrets GROUP BY 1 ORDER BY 1 NULLS FIRST", &[])
                .await?;
            let mut sealed = serde_json::Map::new();
            let mut clear = 0i64;
            for row in rows {
                match row.try_get::<_, Option<String>>(0)? {
                    Some(id) => {
                        sealed.insert(id, json!(row.try_get::<_, i64>(1)?));
                    }
                    None => clear = row.try_get(1)?,
                }
            }
            let given = match master_key(master_key_file) {
                Ok(key) => json!(key.map(|k| k.id().to_owned())),
                Err(e) => json!(format!("unusable: {}", super::error_chain(&e))),
            };
            println!("{}", json!({ "sealed_by_master_key_id": sealed, "clear": clear, "master_key_id_given": given }));
        }
        SecretsCommand::RotateMaster { new_master_key_file } => {
            let from = master_key(master_key_file)?.context(
                "rotate-master needs the current master key: set PAYLEDGER_MASTER_KEY or PAYLEDGER_MASTER_KEY_FILE",
            )?;
            let to = MasterKey::read_file(&new_master_key_file)?;
            anyhow::ensure!(from.id() != to.id(), "the new master key is the current one");
            let resealed = rotate_master(&pool, &from, &to).await?;
            println!(
                "{}",
                json!({ "resealed": resealed, "from_master_key_id": from.id(), "to_master_key_id": to.id() })
            );
            eprintln!("restart every server with the new master key (master key id {})", to.id());
        }
    }
    Ok(ExitCode::SUCCESS)
}
