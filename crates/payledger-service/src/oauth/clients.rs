//! OAuth clients (table `oauth_clients`, V20): one tenant, one role, one mode each. The
//! secret is shown once, at creation; the table keeps its SHA-256.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use payledger_core::admin::AdminEvent;
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::admin_log::{append_admin_events, Actor};
use crate::error::{ServiceError, ServiceResult};
use crate::tenants::{check_label, hash_key, parse_networks, KeyMode, Role};

/// The public form of a client id: `plc_` and the id's 32 hexadecimal digits.
const CLIENT_ID_PREFIX: &str = "plc_";
/// A client secret: `plcs_` and 40 random alphanumerics (~238 bits).
const CLIENT_SECRET_PREFIX: &str = "plcs_";
const CLIENT_SECRET_CHARS: usize = 40;
/// Most clients listed at once.
const LIST_MAX: i64 = 1_000;

/// What a new client is, besides its tenant, role and mode.
#[derive(Debug, Clone, Default)]
pub struct ClientSpec {
    pub label: Option<String>,
    pub allowed_ips: Option<Vec<ipnet::IpNet>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientInfo {
    /// `plc_...`: what the client sends as its id.
    pub client_id: String,
    pub tenant_id: Uuid,
    /// The one scope its tokens carry.
    pub role: Role,
    pub mode: KeyMode,
    pub label: Option<String>,
    pub allowed_ips: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A client just created: the only time its secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub info: ClientInfo,
    pub client_secret: String,
}

pub fn show_client_id(id: Uuid) -> String {
    format!("{CLIENT_ID_PREFIX}{}", id.simple())
}

/// The id in a `plc_...` text, if it is one.
pub fn parse_client_id(text: &str) -> Option<Uuid> {
    let hex = text.strip_prefix(CLIENT_ID_PREFIX)?;
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Uuid::try_parse(hex).ok())
        .flatten()
}

pub async fn create_client(
    pool: &Pool,
    actor: &Actor,
    tenant_id: Uuid,
    role: Role,
    mode: KeyMode,
    spec: &ClientSpec,
) -> ServiceResult<CreatedClient> {
    check_label(spec.label.as_deref())?;
    let id = Uuid::now_v7();
    let secret =
        format!("{CLIENT_SECRET_PREFIX}{}", Alphanumeric.sample_string(&mut rand::rngs::OsRng, CLIENT_SECRET_CHARS));
    let networks: Option<Vec<String>> = spec.allowed_ips.as_ref().map(|n| n.iter().map(ToString::to_string).collect());
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.query_opt("SELECT 1 FROM tenants WHERE tenant_id = $1 AND livemode FOR KEY SHARE", &[&tenant_id])
        .await?
        .ok_or(ServiceError::NotFound("tenant"))?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO oauth_clients (client_id, tenant_id, role, mode, secret_hash, label, allowed_ips)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {CLIENT_COLUMNS}"
            ),
            &[&id, &tenant_id, &role.as_str(), &mode.as_str(), &hash_key(&secret).to_vec(), &spec.label, &networks],
        )
        .await?;
    let info = client_info(&row)?;
    let event = AdminEvent::OAuthClientCreated {
        client_id: id,
        role: role.as_str().to_owned(),
        mode: mode.as_str().to_owned(),
        label: spec.label.clone(),
        allowed_ips: networks,
    };
    append_admin_events(&tx, tenant_id, actor, &[event]).await?;
    tx.commit().await?;
    Ok(CreatedClient { info, client_secret: secret })
}

/// Revokes the client (its tokens stop working at once); `tenant_id` limits it to that
/// tenant's clients. Revoking a revoked client changes nothing. None if there is no such client.
pub async fn revoke_client(
    pool: &Pool,
    actor: &Actor,
    client_id: Uuid,
    tenant_id: Option<Uuid>,
) -> ServiceResult<Option<ClientInfo>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let revoked = tx
        .query_opt(
            "UPDATE oauth_clients SET revoked_at = now()
             WHERE client_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2) AND revoked_at IS NULL RETURNING tenant_id",
            &[&client_id, &tenant_id],
        )
        .await?;
    if let Some(row) = revoked {
        let owner: Uuid = row.try_get(0)?;
        // Its tokens stay, so that one presented later is told it was revoked.
        append_admin_events(&tx, owner, actor, &[AdminEvent::OAuthClientRevoked { client_id }]).await?;
    }
    let row = tx
        .query_opt(
            &format!(
                "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)"
            ),
            &[&client_id, &tenant_id],
        )
        .await?;
    let info = row.map(|row| client_info(&row)).transpose()?;
    tx.commit().await?;
    Ok(info)
}

/// The tenant's clients, oldest first (never a secret).
pub async fn list_clients<C: GenericClient>(client: &C, tenant_id: Uuid) -> ServiceResult<Vec<ClientInfo>> {
    let rows = client
        .query(
            &format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE tenant_id = $1 ORDER BY created_at LIMIT $2"),
            &[&tenant_id, &LIST_MAX],
        )
        .await?;
    rows.iter().map(client_info).collect()
}

const CLIENT_COLUMNS: &str = "client_id, tenant_id, role, mode, label, allowed_ips, created_at, revoked_at";

fn client_info(row: &tokio_postgres::Row) -> ServiceResult<ClientInfo> {
    let role: String = row.try_get(2)?;
    let mode: String = row.try_get(3)?;
    let allowed_ips: Option<Vec<String>> = row.try_get(5)?;
    parse_networks(allowed_ips.clone())?;
    Ok(ClientInfo {
        client_id: show_client_id(row.try_get(0)?),
        tenant_id: row.try_get(1)?,
        role: Role::parse(&role).ok_or_else(|| ServiceError::internal(format!("stored role {role:?}")))?,
        mode: KeyMode::parse(&mode).ok_or_else(|| ServiceError::internal(format!("stored mode {mode:?}")))?,
        label: row.try_get(4)?,
        allowed_ips,
        created_at: row.try_get(6)?,
        revoked_at: row.try_get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_reads_back_and_nothing_else_does() {
        let id = Uuid::now_v7();
        assert_eq!(parse_client_id(&show_client_id(id)), Some(id));
        let shown = show_client_id(id);
        assert_eq!(parse_client_id(&shown.to_uppercase()), None);
        assert_eq!(parse_client_id(&format!("plc_{id}")), None, "the hyphenated form is not a client id");
        assert_eq!(parse_client_id(&shown[..shown.len() - 1]), None);
        assert_eq!(parse_client_id("pl_test_abc"), None);
    }
}
