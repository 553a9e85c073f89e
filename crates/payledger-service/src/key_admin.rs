//! The admin actions on tenants and API keys. Each runs in one transaction that changes the
//! lookup table (`tenants`, `api_keys`) and appends its [`AdminEvent`]s, so the history
//! holds every action with its actor and nothing happens that it does not show.

use deadpool_postgres::{Pool, Transaction};
use payledger_core::admin::AdminEvent;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::admin_log::{append_admin_events, Actor};
use crate::error::{ServiceError, ServiceResult};
use crate::tenants::{
    check_label, check_rate_limit, generate_key, hash_key, key_info, ApiKeyInfo, CreatedKey, KeyMode, KeyRateLimit,
    Role, Tenant, KEY_COLUMNS, KEY_COLUMN_COUNT,
};

/// Longest lifetime a key may be given at creation, in days.
pub const KEY_EXPIRY_MAX_DAYS: i64 = 3_660;
/// Default overlap of a rolled key with its successor: a day, as Stripe's roll.
pub const ROLL_OVERLAP_DEFAULT_S: i64 = 86_400;
/// Longest overlap: 30 days.
pub const ROLL_OVERLAP_MAX_S: i64 = 30 * 86_400;

pub async fn create_tenant(pool: &Pool, actor: &Actor, name: &str) -> ServiceResult<Tenant> {
    let id = Uuid::now_v7();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_one("INSERT INTO tenants (tenant_id, name) VALUES ($1, $2) RETURNING created_at", &[&id, &name])
        .await
        .map_err(|e| match e.code() {
            Some(&SqlState::UNIQUE_VIOLATION) => ServiceError::TenantExists { name: name.to_owned() },
            Some(&SqlState::CHECK_VIOLATION) => ServiceError::TenantNameInvalid,
            _ => ServiceError::from(e),
        })?;
    append_admin_events(&tx, id, actor, &[AdminEvent::TenantCreated { tenant_id: id, name: name.to_owned() }]).await?;
    let test_scope_id: Uuid = tx
        .query_one("SELECT tenant_id FROM tenants WHERE live_tenant_id = $1 AND NOT livemode", &[&id])
        .await?
        .try_get(0)?;
    tx.commit().await?;
    Ok(Tenant {
        id,
        name: name.to_owned(),
        created_at: row.try_get(0)?,
        livemode: true,
        live_tenant_id: None,
        test_scope_id: Some(test_scope_id),
    })
}

/// Sets the tenant's time zone: a name PostgreSQL's time zone database knows (`Europe/Berlin`).
pub async fn set_time_zone(pool: &Pool, actor: &Actor, tenant_id: Uuid, time_zone: &str) -> ServiceResult<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let known = tx.query_opt("SELECT 1 FROM pg_timezone_names WHERE name = $1", &[&time_zone]).await?.is_some();
    if !known {
        return Err(ServiceError::TimeZoneInvalid(time_zone.to_owned()));
    }
    let updated =
        // The tenant and its test scope count days alike.
        tx.execute(
            "UPDATE tenants SET time_zone = $2 WHERE (tenant_id = $1 AND livemode) OR live_tenant_id = $1",
            &[&tenant_id, &time_zone],
        )
        .await?;
    if updated == 0 {
        return Err(ServiceError::NotFound("tenant"));
    }
    let event = AdminEvent::TenantTimeZoneSet { tenant_id, time_zone: time_zone.to_owned() };
    append_admin_events(&tx, tenant_id, actor, &[event]).await?;
    tx.commit().await?;
    Ok(())
}

/// What a new key is, besides its tenant.
#[derive(Debug, Clone, Default)]
pub struct KeySpec {
    pub label: Option<String>,
    /// In the future, at most [`KEY_EXPIRY_MAX_DAYS`] away.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub rate_limit: KeyRateLimit,
    pub allowed_ips: Option<Vec<ipnet::IpNet>>,
    /// A roll's successor of a legacy test key (V22) acts on the live data like it.
    pub legacy_live: bool,
}

pub async fn create_key(
    pool: &Pool,
    actor: &Actor,
    tenant_id: Uuid,
    role: Role,
    mode: KeyMode,
    label: Option<&str>,
) -> ServiceResult<CreatedKey> {
    let spec = KeySpec { label: label.map(str::to_owned), ..KeySpec::default() };
    create_key_with(pool, actor, tenant_id, role, mode, &spec).await
}

/// A key with all of `spec`, created whole or not at all.
pub async fn create_key_with(
    pool: &Pool,
    actor: &Actor,
    tenant_id: Uuid,
    role: Role,
    mode: KeyMode,
    spec: &KeySpec,
) -> ServiceResult<CreatedKey> {
    check_label(spec.label.as_deref())?;
    check_rate_limit(spec.rate_limit)?;
    if let Some(at) = spec.expires_at {
        let now = chrono::Utc::now();
        if at <= now || at > now + chrono::Duration::days(KEY_EXPIRY_MAX_DAYS) {
            let message = format!("expires_at is in the future and at most {KEY_EXPIRY_MAX_DAYS} days away");
            return Err(ServiceError::ExpiryInvalid { param: "expires_at", message });
        }
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let created = insert_key(&tx, actor, tenant_id, role, mode, spec).await?;
    tx.commit().await?;
    Ok(created)
}

async fn insert_key(
    tx: &Transaction<'_>,
    actor: &Actor,
    tenant_id: Uuid,
    role: Role,
    mode: KeyMode,
    spec: &KeySpec,
) -> ServiceResult<CreatedKey> {
    // Keys belong to a tenant, never to its test scope (the key's mode chooses the scope).
    tx.query_opt("SELECT 1 FROM tenants WHERE tenant_id = $1 AND livemode FOR KEY SHARE", &[&tenant_id])
        .await?
        .ok_or(ServiceError::NotFound("tenant"))?;
    let key = generate_key(mode);
    let id = Uuid::now_v7();
    let prefix: String = key.chars().take(12).collect();
    let networks: Option<Vec<String>> = spec.allowed_ips.as_ref().map(|n| n.iter().map(ToString::to_string).collect());
    let limit = spec.rate_limit;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO api_keys (key_id, tenant_id, role, mode, key_prefix, key_hash, label, expires_at,
                                       rate_limit_per_s, rate_limit_burst, allowed_ips, legacy_live)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {KEY_COLUMNS}"
            ),
            &[
                &id,
                &tenant_id,
                &role.as_str(),
                &mode.as_str(),
                &prefix,
                &hash_key(&key).to_vec(),
                &spec.label,
                &spec.expires_at,
                &limit.rate_limit_per_s,
                &limit.rate_limit_burst,
                &networks,
                &spec.legacy_live,
            ],
        )
        .await?;
    let info = key_info(&row)?;
    let mut events = vec![AdminEvent::ApiKeyCreated {
        key_id: id,
        role: role.as_str().to_owned(),
        mode: mode.as_str().to_owned(),
        prefix: info.prefix.clone(),
        label: spec.label.clone(),
        expires_at: spec.expires_at.map(|at| at.to_rfc3339()),
    }];
    if limit != KeyRateLimit::default() {
        events.push(AdminEvent::ApiKeyRateLimitSet {
            key_id: id,
            rate_limit_per_s: limit.rate_limit_per_s,
            rate_limit_burst: limit.rate_limit_burst,
        });
    }
    if networks.is_some() {
        events.push(AdminEvent::ApiKeyAllowedIpsSet { key_id: id, allowed_ips: networks });
    }
    append_admin_events(tx, tenant_id, actor, &events).await?;
    Ok(CreatedKey { info, key })
}

/// Sets (or with `None` fields, clears back to the server's default) a key's own rate
/// limit; `tenant_id` limits it to that tenant's keys. None if there is no such key.
pub async fn set_rate_limit(
    pool: &Pool,
    actor: &Actor,
    key_id: Uuid,
    tenant_id: Option<Uuid>,
    limit: KeyRateLimit,
) -> ServiceResult<Option<ApiKeyInfo>> {
    check_rate_limit(limit)?;
    let event = AdminEvent::ApiKeyRateLimitSet {
        key_id,
        rate_limit_per_s: limit.rate_limit_per_s,
        rate_limit_burst: limit.rate_limit_burst,
    };
    update_key(
        pool,
        actor,
        event,
        "UPDATE api_keys SET rate_limit_per_s = $3, rate_limit_burst = $4
         WHERE key_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)",
        &[&key_id, &tenant_id, &limit.rate_limit_per_s, &limit.rate_limit_burst],
    )
    .await
}

/// Sets a key's allow-list, or with `None` lets it be used from anywhere; `tenant_id`
/// limits it to that tenant's keys. None if there is no such key.
pub async fn set_allowed_ips(
    pool: &Pool,
    actor: &Actor,
    key_id: Uuid,
    tenant_id: Option<Uuid>,
    networks: Option<&[ipnet::IpNet]>,
) -> ServiceResult<Option<ApiKeyInfo>> {
    let texts: Option<Vec<String>> = networks.map(|nets| nets.iter().map(ToString::to_string).collect());
    let event = AdminEvent::ApiKeyAllowedIpsSet { key_id, allowed_ips: texts.clone() };
    let update = "UPDATE api_keys SET allowed_ips = $3 WHERE key_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)";
    update_key(pool, actor, event, update, &[&key_id, &tenant_id, &texts]).await
}

/// Runs `update` (`$1` the key id) and appends `event`, in one transaction.
async fn update_key(
    pool: &Pool,
    actor: &Actor,
    event: AdminEvent,
    update: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> ServiceResult<Option<ApiKeyInfo>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx.query_opt(&format!("{update} RETURNING {KEY_COLUMNS}"), params).await?;
    let Some(row) = row else { return Ok(None) };
    let info = key_info(&row)?;
    append_admin_events(&tx, info.tenant_id, actor, &[event]).await?;
    tx.commit().await?;
    Ok(Some(info))
}

/// The key that replaced a rolled one (its secret shown once), and the rolled key as it is now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RolledKey {
    #[serde(flatten)]
    pub created: CreatedKey,
    pub rolled: ApiKeyInfo,
}

/// Issues a new key with the same tenant, role, mode, label, rate limit and allow-list; the
/// old one keeps working for `expire_old_in_s` more seconds (0: it stops now), or until its
/// own earlier expiry. `tenant_id` limits it to that tenant's keys. None if there is no such key.
pub async fn roll_key(
    pool: &Pool,
    actor: &Actor,
    key_id: Uuid,
    tenant_id: Option<Uuid>,
    expire_old_in_s: i64,
) -> ServiceResult<Option<RolledKey>> {
    if !(0..=ROLL_OVERLAP_MAX_S).contains(&expire_old_in_s) {
        let message = format!("expire_old_in_s is 0 to {ROLL_OVERLAP_MAX_S}");
        return Err(ServiceError::ExpiryInvalid { param: "expire_old_in_s", message });
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let old = tx
        .query_opt(
            &format!(
                "SELECT {KEY_COLUMNS}, coalesce(expires_at <= now(), false) FROM api_keys
                 WHERE key_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2) FOR UPDATE"
            ),
            &[&key_id, &tenant_id],
        )
        .await?;
    let Some(old) = old else { return Ok(None) };
    let info = key_info(&old)?;
    let state = match (info.revoked_at, old.try_get::<_, bool>(KEY_COLUMN_COUNT)?, info.rolled_to) {
        (Some(_), _, _) => Some("revoked"),
        (None, true, _) => Some("expired"),
        (None, false, Some(_)) => Some("already rolled"),
        (None, false, None) => None,
    };
    if let Some(state) = state {
        return Err(ServiceError::KeyNotActive { state });
    }
    let allowed_ips = crate::tenants::parse_networks(info.allowed_ips.clone())?;
    let spec = KeySpec {
        label: info.label.clone(),
        expires_at: None,
        rate_limit: info.rate_limit,
        allowed_ips,
        legacy_live: info.legacy_live,
    };
    let created = insert_key(&tx, actor, info.tenant_id, info.role, info.mode, &spec).await?;
    let rolled = tx
        .query_one(
            &format!(
                "UPDATE api_keys SET rolled_to = $2,
                        expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
                 WHERE key_id = $1 RETURNING {KEY_COLUMNS}"
            ),
            &[&key_id, &created.info.id, &(expire_old_in_s as f64)],
        )
        .await?;
    let rolled = key_info(&rolled)?;
    let old_expires_at = rolled.expires_at.map(|at| at.to_rfc3339()).unwrap_or_default();
    let event = AdminEvent::ApiKeyRolled { key_id, successor_id: created.info.id, old_expires_at };
    append_admin_events(&tx, info.tenant_id, actor, &[event]).await?;
    tx.commit().await?;
    Ok(Some(RolledKey { created, rolled }))
}

/// Revokes a key; `tenant_id` limits it to that tenant's keys. Returns the key, or None if
/// unknown. Revoking a revoked key changes nothing and appends nothing.
pub async fn revoke_key(
    pool: &Pool,
    actor: &Actor,
    key_id: Uuid,
    tenant_id: Option<Uuid>,
) -> ServiceResult<Option<ApiKeyInfo>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            &format!(
                "UPDATE api_keys SET revoked_at = now()
                 WHERE key_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2) AND revoked_at IS NULL
                 RETURNING {KEY_COLUMNS}"
            ),
            &[&key_id, &tenant_id],
        )
        .await?;
    let Some(row) = row else {
        drop(tx);
        let existing = client
            .query_opt(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)"
                ),
                &[&key_id, &tenant_id],
            )
            .await?;
        return existing.map(|r| key_info(&r)).transpose();
    };
    let info = key_info(&row)?;
    append_admin_events(&tx, info.tenant_id, actor, &[AdminEvent::ApiKeyRevoked { key_id }]).await?;
    tx.commit().await?;
    Ok(Some(info))
}
