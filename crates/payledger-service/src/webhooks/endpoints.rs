//! Webhook endpoints and their signing secrets (tables `webhook_endpoints`,
//! `webhook_secrets`, migration V4).
//!
//! Rotation: add a secret (both the old and the new one verify), switch the gateway over,
//! retire the old one (it stops verifying at once). The last active secret cannot be
//! retired, so an endpoint never silently stops accepting deliveries.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use payledger_gateways::{Provider, WebhookSecret};
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::admin_log::{append_admin_events, Actor};
use crate::secrets::{lock_secrets, open_secret, seal_secret, sealed_under_other_key, MasterKey, SecretRow};
use payledger_core::admin::AdminEvent;

use super::error::{WebhookError, WebhookResult};

/// Active secrets per endpoint: enough for any rotation, few enough to try them all.
pub const MAX_ACTIVE_SECRETS: usize = 5;
/// Endpoints per tenant.
pub const MAX_ENDPOINTS_PER_TENANT: i64 = 100;
/// Most endpoints in one page of a list.
pub const LIST_MAX_LIMIT: i64 = 100;
pub use payledger_core::LABEL_MAX_CHARS;
/// Characters of a generated `generic` secret after its `whsec_` prefix (~190 bits).
const GENERATED_SECRET_CHARS: usize = 32;
/// Trailing characters shown to recognise a secret; only for secrets long enough that this
/// gives little away.
const HINT_CHARS: usize = 4;
const HINT_MIN_SECRET_CHARS: usize = 16;

#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    pub id: Uuid,
    pub object: &'static str,
    pub tenant_id: Uuid,
    pub provider: Provider,
    pub label: Option<String>,
    /// Where the gateway should POST, relative to the server's base URL.
    pub url: String,
    pub secrets: Vec<SecretView>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretView {
    pub id: Uuid,
    pub object: &'static str,
    pub endpoint_id: Uuid,
    /// `active` (verifies deliveries) or `retired`.
    pub status: &'static str,
    /// The secret's last characters, empty for short secrets. The secret itself is never shown
    /// again after creation.
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// An endpoint just created. `secret` is set only when the server generated the secret:
/// the one time it is shown.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A secret just added; `secret` as in [`CreatedEndpoint`].
#[derive(Debug, Clone, Serialize)]
pub struct CreatedSecret {
    #[serde(flatten)]
    pub info: SecretView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// What verifying a delivery needs: the endpoint's tenant and its active secrets.
pub struct VerificationKeys {
    pub tenant_id: Uuid,
    /// Parallel to `secrets`: the id of each.
    pub secret_ids: Vec<Uuid>,
    pub secrets: Vec<WebhookSecret>,
}

pub fn endpoint_url(provider: Provider, endpoint_id: Uuid) -> String {
    format!("/v1/webhooks/{provider}/{endpoint_id}")
}

/// A valid secret for `provider`: the one given, or (generic only) a generated one.
/// Returns the secret and whether it was generated.
fn secret_for(provider: Provider, given: Option<&str>) -> WebhookResult<(String, bool)> {
    let (secret, generated) = match given {
        Some(secret) => (secret.to_owned(), false),
        None => match provider {
            Provider::Generic => {
                (format!("whsec_{}", Alphanumeric.sample_string(&mut rand::rngs::OsRng, GENERATED_SECRET_CHARS)), true)
            }
            Provider::Stripe | Provider::Adyen => {
                return Err(WebhookError::SecretRequired { provider: provider.as_str() })
            }
        },
    };
    WebhookSecret::new(provider, &secret)?;
    Ok((secret, generated))
}

fn hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < HINT_MIN_SECRET_CHARS {
        return String::new();
    }
    chars[chars.len() - HINT_CHARS..].iter().collect()
}

pub async fn create_endpoint(
    pool: &Pool,
    master_key: Option<&MasterKey>,
    actor: &Actor,
    tenant_id: Uuid,
    provider: Provider,
    secret: Option<&str>,
    label: Option<&str>,
) -> WebhookResult<CreatedEndpoint> {
    crate::tenants::check_label(label)?;
    let master_key = master_key.ok_or(WebhookError::MasterKeyMissing)?;
    let (secret, generated) = secret_for(provider, secret)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Serialises endpoint creation per tenant, so the count below holds.
    tx.query_opt("SELECT 1 FROM tenants WHERE tenant_id = $1 FOR NO KEY UPDATE", &[&tenant_id])
        .await?
        .ok_or(WebhookError::TenantNotFound)?;
    let count: i64 =
        tx.query_one("SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1", &[&tenant_id]).await?.try_get(0)?;
    if count >= MAX_ENDPOINTS_PER_TENANT {
        return Err(WebhookError::TooManyEndpoints { max: MAX_ENDPOINTS_PER_TENANT });
    }
    let endpoint_id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO webhook_endpoints (endpoint_id, tenant_id, provider, label) VALUES ($1, $2, $3, $4)",
        &[&endpoint_id, &tenant_id, &provider.as_str(), &label],
    )
    .await?;
    let secret_view = insert_secret(&*tx, master_key, endpoint_id, &secret).await?;
    let endpoint = load_endpoint(&*tx, tenant_id, endpoint_id).await?;
    let events = [
        AdminEvent::WebhookEndpointCreated {
            endpoint_id,
            provider: provider.as_str().to_owned(),
            label: label.map(str::to_owned),
        },
        secret_added(&secret_view),
    ];
    record(&tx, tenant_id, actor, &events).await?;
    tx.commit().await?;
    Ok(CreatedEndpoint { endpoint, secret: generated.then_some(secret) })
}

pub async fn add_secret(
    pool: &Pool,
    master_key: Option<&MasterKey>,
    actor: &Actor,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    secret: Option<&str>,
) -> WebhookResult<CreatedSecret> {
    let master_key = master_key.ok_or(WebhookError::MasterKeyMissing)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let provider = lock_endpoint(&*tx, tenant_id, endpoint_id).await?;
    let (secret, generated) = secret_for(provider, secret)?;
    if active_secret_count(&*tx, endpoint_id).await? >= MAX_ACTIVE_SECRETS as i64 {
        return Err(WebhookError::TooManyActiveSecrets { max: MAX_ACTIVE_SECRETS });
    }
    let info = insert_secret(&*tx, master_key, endpoint_id, &secret).await?;
    record(&tx, tenant_id, actor, &[secret_added(&info)]).await?;
    tx.commit().await?;
    Ok(CreatedSecret { info, secret: generated.then_some(secret) })
}

/// Retires a secret at once; retiring a retired secret changes nothing.
pub async fn retire_secret(
    pool: &Pool,
    actor: &Actor,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    secret_id: Uuid,
) -> WebhookResult<SecretView> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    lock_endpoint(&*tx, tenant_id, endpoint_id).await?;
    let row = tx
        .query_opt(
            "SELECT retired_at FROM webhook_secrets WHERE secret_id = $1 AND endpoint_id = $2",
            &[&secret_id, &endpoint_id],
        )
        .await?
        .ok_or(WebhookError::SecretNotFound)?;
    let retired_at: Option<DateTime<Utc>> = row.try_get(0)?;
    if retired_at.is_none() {
        if active_secret_count(&*tx, endpoint_id).await? <= 1 {
            return Err(WebhookError::LastActiveSecret);
        }
        tx.execute("UPDATE webhook_secrets SET retired_at = now() WHERE secret_id = $1", &[&secret_id]).await?;
        record(&tx, tenant_id, actor, &[AdminEvent::WebhookSecretRetired { endpoint_id, secret_id }]).await?;
    }
    let row =
        tx.query_one(&format!("{SECRET_COLUMNS} FROM webhook_secrets WHERE secret_id = $1"), &[&secret_id]).await?;
    let info = secret_view(&row)?;
    tx.commit().await?;
    Ok(info)
}

/// A page of the tenant's endpoints, oldest first (ids are UUIDv7), and whether more follow.
pub async fn list_endpoints<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    limit: i64,
    starting_after: Option<Uuid>,
) -> WebhookResult<(Vec<EndpointView>, bool)> {
    let limit = limit.clamp(1, LIST_MAX_LIMIT);
    let rows = client
        .query(
            "SELECT endpoint_id FROM webhook_endpoints
             WHERE tenant_id = $1 AND ($2::uuid IS NULL OR endpoint_id > $2)
             ORDER BY endpoint_id LIMIT $3",
            &[&tenant_id, &starting_after, &(limit + 1)],
        )
        .await?;
    let has_more = rows.len() as i64 > limit;
    let mut endpoints = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        endpoints.push(load_endpoint(client, tenant_id, row.try_get(0)?).await?);
    }
    Ok((endpoints, has_more))
}

/// The endpoint's tenant and active secrets, for verification. An unknown endpoint and an
/// endpoint of another provider are the same: [`WebhookError::EndpointNotFound`].
///
/// Prepared once per connection (every delivery runs it). The secrets are opened with the
/// master key; a secret sealed under another key is [`WebhookError::MasterKeyMismatch`]
/// (the sender retries; the server's key is wrong), not a bad signature.
pub async fn verification_keys<C: deadpool_postgres::GenericClient>(
    client: &C,
    master_key: Option<&MasterKey>,
    endpoint_id: Uuid,
    provider: Provider,
) -> WebhookResult<VerificationKeys> {
    let statement = client
        .prepare_cached(
            "SELECT e.tenant_id, s.secret_id, s.secret, s.secret_sealed, s.master_key_id, s.endpoint_id
             FROM webhook_endpoints e
             LEFT JOIN webhook_secrets s ON s.endpoint_id = e.endpoint_id AND s.retired_at IS NULL
             WHERE e.endpoint_id = $1 AND e.provider = $2
             ORDER BY s.created_at DESC LIMIT $3",
        )
        .await?;
    let rows = client.query(&statement, &[&endpoint_id, &provider.as_str(), &(MAX_ACTIVE_SECRETS as i64)]).await?;
    let first = rows.first().ok_or(WebhookError::EndpointNotFound)?;
    let mut keys = VerificationKeys { tenant_id: first.try_get(0)?, secret_ids: Vec::new(), secrets: Vec::new() };
    for row in &rows {
        let Some(secret_id) = row.try_get::<_, Option<Uuid>>(1)? else {
            continue;
        };
        let secret = stored_secret(row, master_key, SecretRow { secret_id, endpoint_id: row.try_get(5)? })?;
        match WebhookSecret::new(provider, &secret) {
            Ok(secret) => {
                keys.secret_ids.push(secret_id);
                keys.secrets.push(secret);
            }
            Err(e) => tracing::warn!(%endpoint_id, %secret_id, error = %e, "stored webhook secret is unusable"),
        }
    }
    Ok(keys)
}

/// The secret of a row of [`verification_keys`]: opened, or in clear for a row written
/// before sealing (sealed at the next start). A sealed value that does not open under the
/// right key was altered or moved: [`WebhookError::Corrupt`], never a bad signature.
fn stored_secret(
    row: &tokio_postgres::Row,
    master_key: Option<&MasterKey>,
    at: SecretRow,
) -> WebhookResult<zeroize::Zeroizing<String>> {
    let secret_id = at.secret_id;
    if let Some(clear) = row.try_get::<_, Option<&str>>(2)? {
        return Ok(zeroize::Zeroizing::new(clear.to_owned()));
    }
    let (Some(sealed), Some(stored_id)) = (row.try_get::<_, Option<&[u8]>>(3)?, row.try_get::<_, Option<&str>>(4)?)
    else {
        return Err(WebhookError::Corrupt(format!(
            "webhook secret {secret_id} has neither a clear nor a sealed value"
        )));
    };
    let master_key = master_key.ok_or(WebhookError::MasterKeyMissing)?;
    if stored_id != master_key.id() {
        return Err(WebhookError::MasterKeyMismatch { stored_id: stored_id.to_owned() });
    }
    open_secret(master_key, at, sealed)
        .map_err(|_| WebhookError::Corrupt(format!("webhook secret {secret_id} does not open under its master key")))
}

/// The endpoint's provider, if the endpoint exists.
pub async fn endpoint_provider<C: GenericClient>(client: &C, endpoint_id: Uuid) -> WebhookResult<Option<Provider>> {
    let row =
        client.query_opt("SELECT provider FROM webhook_endpoints WHERE endpoint_id = $1", &[&endpoint_id]).await?;
    row.map(|row| parse_provider(row.try_get(0)?)).transpose()
}

/// The tenant owning an endpoint (for operators, who name endpoints by id alone).
pub async fn endpoint_tenant<C: GenericClient>(client: &C, endpoint_id: Uuid) -> WebhookResult<Uuid> {
    let row = client
        .query_opt("SELECT tenant_id FROM webhook_endpoints WHERE endpoint_id = $1", &[&endpoint_id])
        .await?
        .ok_or(WebhookError::EndpointNotFound)?;
    Ok(row.try_get(0)?)
}

/// The endpoint's provider, with its row locked until the transaction ends (`NO KEY UPDATE`:
/// deliveries being recorded for it, which only reference it, are not held up).
async fn lock_endpoint<C: GenericClient>(client: &C, tenant_id: Uuid, endpoint_id: Uuid) -> WebhookResult<Provider> {
    let row = client
        .query_opt(
            "SELECT provider FROM webhook_endpoints WHERE endpoint_id = $1 AND tenant_id = $2 FOR NO KEY UPDATE",
            &[&endpoint_id, &tenant_id],
        )
        .await?
        .ok_or(WebhookError::EndpointNotFound)?;
    parse_provider(row.try_get(0)?)
}

async fn active_secret_count<C: GenericClient>(client: &C, endpoint_id: Uuid) -> WebhookResult<i64> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM webhook_secrets WHERE endpoint_id = $1 AND retired_at IS NULL",
            &[&endpoint_id],
        )
        .await?
        .try_get(0)?)
}

const SECRET_COLUMNS: &str = "SELECT secret_id, endpoint_id, secret_hint, created_at, retired_at";

/// The secret by its hint only: the secret itself is never in the history.
fn secret_added(view: &SecretView) -> AdminEvent {
    AdminEvent::WebhookSecretAdded { endpoint_id: view.endpoint_id, secret_id: view.id, hint: view.hint.clone() }
}

async fn record(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: Uuid,
    actor: &Actor,
    events: &[AdminEvent],
) -> WebhookResult<()> {
    append_admin_events(tx, tenant_id, actor, events).await.map_err(|e| match e {
        crate::ServiceError::Store(store) => WebhookError::Store(store),
        other => WebhookError::Corrupt(other.to_string()),
    })
}

/// Stores the secret sealed under the master key: never in clear.
async fn insert_secret<C: GenericClient>(
    client: &C,
    master_key: &MasterKey,
    endpoint_id: Uuid,
    secret: &str,
) -> WebhookResult<SecretView> {
    // One master key for the whole table: a writer holding another key (a CLI given the
    // wrong one, a server left on the old key after a rotation) is refused, not obeyed.
    lock_secrets(client).await?;
    if let Some(stored_id) = sealed_under_other_key(client, master_key).await? {
        return Err(WebhookError::MasterKeyMismatch { stored_id });
    }
    let secret_id = Uuid::now_v7();
    let at = SecretRow { secret_id, endpoint_id };
    let sealed = seal_secret(master_key, at, secret).map_err(|e| WebhookError::Corrupt(e.to_string()))?;
    let row = client
        .query_one(
            "INSERT INTO webhook_secrets (secret_id, endpoint_id, secret_sealed, master_key_id, secret_hint)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING secret_id, endpoint_id, secret_hint, created_at, retired_at",
            &[&secret_id, &endpoint_id, &sealed, &master_key.id(), &hint(secret)],
        )
        .await?;
    secret_view(&row)
}

async fn load_endpoint<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    endpoint_id: Uuid,
) -> WebhookResult<EndpointView> {
    let row = client
        .query_opt(
            "SELECT provider, label, created_at FROM webhook_endpoints WHERE endpoint_id = $1 AND tenant_id = $2",
            &[&endpoint_id, &tenant_id],
        )
        .await?
        .ok_or(WebhookError::EndpointNotFound)?;
    let provider = parse_provider(row.try_get(0)?)?;
    let secrets = client
        .query(
            &format!("{SECRET_COLUMNS} FROM webhook_secrets WHERE endpoint_id = $1 ORDER BY created_at LIMIT 100"),
            &[&endpoint_id],
        )
        .await?
        .iter()
        .map(secret_view)
        .collect::<WebhookResult<Vec<_>>>()?;
    Ok(EndpointView {
        id: endpoint_id,
        object: "webhook_endpoint",
        tenant_id,
        provider,
        label: row.try_get(1)?,
        url: endpoint_url(provider, endpoint_id),
        secrets,
        created_at: row.try_get(2)?,
    })
}

fn secret_view(row: &tokio_postgres::Row) -> WebhookResult<SecretView> {
    let retired_at: Option<DateTime<Utc>> = row.try_get(4)?;
    Ok(SecretView {
        id: row.try_get(0)?,
        object: "webhook_secret",
        endpoint_id: row.try_get(1)?,
        status: if retired_at.is_some() { "retired" } else { "active" },
        hint: row.try_get(2)?,
        created_at: row.try_get(3)?,
        retired_at,
    })
}

fn parse_provider(stored: &str) -> WebhookResult<Provider> {
    stored.parse().map_err(|_| WebhookError::Corrupt(format!("stored provider {stored:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_only_long_secrets() {
        assert_eq!(hint("whsec_abcdefghijklmnop"), "mnop");
        assert_eq!(hint("short"), "");
    }

    #[test]
    fn only_generic_secrets_are_generated() {
        let (secret, generated) = secret_for(Provider::Generic, None).unwrap();
        assert!(generated && secret.starts_with("whsec_") && secret.len() == 6 + GENERATED_SECRET_CHARS);
        assert!(matches!(secret_for(Provider::Stripe, None), Err(WebhookError::SecretRequired { .. })));
        assert!(matches!(secret_for(Provider::Adyen, Some("xyz")), Err(WebhookError::InvalidSecret(_))));
        assert_eq!(secret_for(Provider::Adyen, Some("0aff")).unwrap(), ("0aff".to_owned(), false));
    }
}
