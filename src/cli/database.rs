//! The database a command works on: named by host and port in errors.

use std::time::Duration;

use tokio_postgres::config::Host;

/// How long the first connection may take before the server is called unreachable.
const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// Connects once and disconnects; an error names the server tried and how to change it.
pub async fn check_reachable(database_url: &str) -> anyhow::Result<()> {
    let mut config: tokio_postgres::Config =
        database_url.parse().map_err(|e| anyhow::anyhow!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
    config.connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS));
    match config.connect(tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            drop(client);
            let _ = connection.await;
            Ok(())
        }
        Err(err) => Err(anyhow::Error::new(err).context(format!(
            "cannot connect to PostgreSQL at {} (database {:?}, user {:?}; set by DATABASE_URL or --database-url)",
            servers(&config),
            config.get_dbname().unwrap_or("(default)"),
            config.get_user().unwrap_or("(default)"),
        ))),
    }
}

/// "host:port", or each of them when the URL lists several.
fn servers(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let port_of = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| match host {
            Host::Tcp(name) => format!("{name}:{}", port_of(i)),
            Host::Unix(dir) => format!("{}/.s.PGSQL.{}", dir.display(), port_of(i)),
        })
        .collect();
    if hosts.is_empty() {
        "(no host in the URL)".to_owned()
    } else {
        hosts.join(", ")
    }
}
