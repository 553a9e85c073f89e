//! Webhook secrets sealed at rest: what the startup check refuses, the sealing of secrets
//! left in clear, and the all-or-nothing rotation.

use payledger_gateways::Provider;
use payledger_service::admin_log::Actor;
use payledger_service::secrets::{check_at_startup, rotate_master, MasterKey, SecretsError};
use payledger_service::tenants::create_tenant;
use payledger_service::webhooks::endpoints::{add_secret, create_endpoint, verification_keys};
use payledger_service::webhooks::WebhookError;
use payledger_testkit::TestDb;
use uuid::Uuid;

const STRIPE_SECRET: &str = "whsec_sealed_at_rest_test_secret";

async fn endpoint_with_secret(pool: &deadpool_postgres::Pool, key: &MasterKey) -> Uuid {
    let tenant = create_tenant(pool, &Actor::cli(), "shop").await.unwrap();
    let created =
        create_endpoint(pool, Some(key), &Actor::cli(), tenant.id, Provider::Stripe, Some(STRIPE_SECRET), None)
            .await
            .unwrap();
    created.endpoint.id
}

/// Asserts that the endpoint's secrets, opened with `key`, verify a body signed with
/// `secret` (and how many active secrets it has).
async fn verifies(pool: &deadpool_postgres::Pool, key: &MasterKey, endpoint_id: Uuid, secret: &str, active: usize) {
    let client = pool.get().await.unwrap();
    let keys = verification_keys(&client, Some(key), endpoint_id, Provider::Stripe).await.unwrap();
    assert_eq!(keys.secrets.len(), active);
    let now = chrono::Utc::now().timestamp();
    let body = br#"{"id":"evt_1"}"#;
    let header = payledger_gateways::signing::sign_stripe_header(secret, now, body);
    let lookup = |name: &str| (name.eq_ignore_ascii_case("stripe-signature")).then(|| header.clone());
    payledger_gateways::verify(Provider::Stripe, &lookup, body, &keys.secrets, now, 300).expect("verifies");
    let forged = payledger_gateways::signing::sign_stripe_header("whsec_not_it", now, body);
    let lookup = |name: &str| (name.eq_ignore_ascii_case("stripe-signature")).then(|| forged.clone());
    assert!(payledger_gateways::verify(Provider::Stripe, &lookup, body, &keys.secrets, now, 300).is_err());
}

async fn stored(pool: &deadpool_postgres::Pool) -> Vec<(Option<String>, Option<Vec<u8>>, Option<String>)> {
    let client = pool.get().await.unwrap();
    let rows = client.query("SELECT secret, secret_sealed, master_key_id FROM webhook_secrets", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
}

#[tokio::test]
async fn a_secret_is_stored_sealed_under_the_key_and_opens_with_it_only() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let key = MasterKey::generate();
    let endpoint_id = endpoint_with_secret(&pool, &key).await;
    let rows = stored(&pool).await;
    assert_eq!(rows.len(), 1);
    let (clear, sealed, key_id) = &rows[0];
    assert!(clear.is_none(), "stored in clear");
    let sealed = sealed.as_ref().unwrap();
    assert!(!sealed.windows(STRIPE_SECRET.len()).any(|w| w == STRIPE_SECRET.as_bytes()));
    assert_eq!(key_id.as_deref(), Some(key.id()));
    verifies(&pool, &key, endpoint_id, STRIPE_SECRET, 1).await;

    let client = pool.get().await.unwrap();
    let other = MasterKey::generate();
    let refused = verification_keys(&client, Some(&other), endpoint_id, Provider::Stripe).await;
    assert!(matches!(refused, Err(WebhookError::MasterKeyMismatch { stored_id }) if stored_id == key.id()));
    let refused = verification_keys(&client, None, endpoint_id, Provider::Stripe).await;
    assert!(matches!(refused, Err(WebhookError::MasterKeyMissing)));
}

#[tokio::test]
async fn without_a_master_key_no_secret_is_added() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let key = MasterKey::generate();
    let endpoint_id = endpoint_with_secret(&pool, &key).await;
    let tenant_id: Uuid =
        pool.get().await.unwrap().query_one("SELECT tenant_id FROM tenants WHERE livemode", &[]).await.unwrap().get(0);
    let created = create_endpoint(&pool, None, &Actor::cli(), tenant_id, Provider::Generic, None, None).await;
    assert!(matches!(created, Err(WebhookError::MasterKeyMissing)));
    let added = add_secret(&pool, None, &Actor::cli(), tenant_id, endpoint_id, None).await;
    assert!(matches!(added, Err(WebhookError::MasterKeyMissing)));
    assert_eq!(stored(&pool).await.len(), 1, "nothing was written");
}

#[tokio::test]
async fn the_startup_check_refuses_a_missing_or_wrong_key_and_accepts_the_right_one() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    assert_eq!(check_at_startup(&pool, None).await.unwrap().sealed, 0, "no secrets: no key needed");
    let key = MasterKey::generate();
    endpoint_with_secret(&pool, &key).await;
    assert!(matches!(check_at_startup(&pool, None).await, Err(SecretsError::KeyMissing { count: 1 })));
    let other = MasterKey::generate();
    let refused = check_at_startup(&pool, Some(&other)).await;
    assert!(
        matches!(&refused, Err(SecretsError::KeyMismatch { stored_id, given_id, .. }) if stored_id == key.id() && given_id == other.id()),
        "{refused:?}"
    );
    let message = refused.unwrap_err().to_string();
    assert!(message.contains(key.id()) && message.contains("rotate-master"), "{message}");
    let fine = check_at_startup(&pool, Some(&key)).await.unwrap();
    assert_eq!((fine.sealed, fine.sealed_now), (1, 0));
}

/// A secret written in clear before V19 is sealed at the first start with a key, and a
/// start without a key refuses while it is in clear.
#[tokio::test]
async fn a_secret_left_in_clear_is_sealed_at_the_first_start_with_a_key() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let key = MasterKey::generate();
    let endpoint_id = endpoint_with_secret(&pool, &key).await;
    pool.get()
        .await
        .unwrap()
        .execute(
            "UPDATE webhook_secrets SET secret = $1, secret_sealed = NULL, master_key_id = NULL",
            &[&STRIPE_SECRET],
        )
        .await
        .unwrap();
    assert!(matches!(check_at_startup(&pool, None).await, Err(SecretsError::ClearWithoutKey { count: 1 })));
    let checked = check_at_startup(&pool, Some(&key)).await.unwrap();
    assert_eq!((checked.sealed, checked.sealed_now), (1, 1));
    let (clear, sealed, key_id) = stored(&pool).await.remove(0);
    assert!(clear.is_none() && sealed.is_some() && key_id.as_deref() == Some(key.id()));
    verifies(&pool, &key, endpoint_id, STRIPE_SECRET, 1).await;
}

#[tokio::test]
async fn rotation_reseals_everything_under_the_new_key_and_can_be_run_again() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let (old, new) = (MasterKey::generate(), MasterKey::generate());
    let endpoint_id = endpoint_with_secret(&pool, &old).await;
    let tenant_id: Uuid =
        pool.get().await.unwrap().query_one("SELECT tenant_id FROM tenants WHERE livemode", &[]).await.unwrap().get(0);
    add_secret(&pool, Some(&old), &Actor::cli(), tenant_id, endpoint_id, Some("whsec_second_one")).await.unwrap();
    assert_eq!(rotate_master(&pool, &old, &new).await.unwrap(), 2);
    assert!(stored(&pool).await.iter().all(|(clear, _, id)| clear.is_none() && id.as_deref() == Some(new.id())));
    verifies(&pool, &new, endpoint_id, STRIPE_SECRET, 2).await;
    verifies(&pool, &new, endpoint_id, "whsec_second_one", 2).await;
    assert!(check_at_startup(&pool, Some(&old)).await.is_err(), "the old key no longer starts a server");
    // Run again (after an interruption, say): nothing left to do.
    assert_eq!(rotate_master(&pool, &old, &new).await.unwrap(), 0);
}

/// A rotation given the wrong current key, or meeting a secret it cannot open, changes
/// nothing at all.
#[tokio::test]
async fn a_rotation_that_cannot_open_a_secret_changes_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let (old, new, wrong) = (MasterKey::generate(), MasterKey::generate(), MasterKey::generate());
    let endpoint_id = endpoint_with_secret(&pool, &old).await;
    let tenant_id: Uuid =
        pool.get().await.unwrap().query_one("SELECT tenant_id FROM tenants WHERE livemode", &[]).await.unwrap().get(0);
    add_secret(&pool, Some(&old), &Actor::cli(), tenant_id, endpoint_id, Some("whsec_second_one")).await.unwrap();
    let before = stored(&pool).await;
    assert!(matches!(rotate_master(&pool, &wrong, &new).await, Err(SecretsError::KeyMismatch { .. })));
    assert_eq!(stored(&pool).await, before);
    // The newest secret's sealed bytes altered: the first one re-seals, the second fails.
    pool.get()
        .await
        .unwrap()
        .execute(
            "UPDATE webhook_secrets SET secret_sealed = set_byte(secret_sealed, 20, get_byte(secret_sealed, 20) # 1)
             WHERE secret_id = (SELECT secret_id FROM webhook_secrets ORDER BY created_at DESC, secret_id DESC LIMIT 1)",
            &[],
        )
        .await
        .unwrap();
    let altered = stored(&pool).await;
    assert!(matches!(rotate_master(&pool, &old, &new).await, Err(SecretsError::Unreadable { .. })));
    assert_eq!(stored(&pool).await, altered, "the first secret's re-sealing rolled back too");
}

/// A writer holding another master key than the table's (a CLI given the wrong key, a server
/// left on the old key after a rotation) is refused: the table never holds two keys.
#[tokio::test]
async fn a_secret_is_not_added_under_another_key_than_the_tables() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let (old, new) = (MasterKey::generate(), MasterKey::generate());
    let endpoint_id = endpoint_with_secret(&pool, &old).await;
    let tenant_id: Uuid =
        pool.get().await.unwrap().query_one("SELECT tenant_id FROM tenants WHERE livemode", &[]).await.unwrap().get(0);
    let refused = add_secret(&pool, Some(&new), &Actor::cli(), tenant_id, endpoint_id, Some("whsec_third")).await;
    assert!(
        matches!(&refused, Err(WebhookError::MasterKeyMismatch { stored_id }) if stored_id == old.id()),
        "{refused:?}"
    );
    rotate_master(&pool, &old, &new).await.unwrap();
    let stale = add_secret(&pool, Some(&old), &Actor::cli(), tenant_id, endpoint_id, Some("whsec_third")).await;
    assert!(matches!(stale, Err(WebhookError::MasterKeyMismatch { .. })), "a server still on the old key");
    add_secret(&pool, Some(&new), &Actor::cli(), tenant_id, endpoint_id, Some("whsec_third")).await.unwrap();
    assert!(stored(&pool).await.iter().all(|(_, _, id)| id.as_deref() == Some(new.id())));
}

/// A sealed secret altered in place, or moved onto another endpoint, is corrupt data (500),
/// never mistaken for a bad signature.
#[tokio::test]
async fn an_altered_or_moved_secret_is_corrupt_not_a_bad_signature() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let key = MasterKey::generate();
    let victim = endpoint_with_secret(&pool, &key).await;
    let tenant_id: Uuid =
        pool.get().await.unwrap().query_one("SELECT tenant_id FROM tenants WHERE livemode", &[]).await.unwrap().get(0);
    let attacker = create_endpoint(
        &pool,
        Some(&key),
        &Actor::cli(),
        tenant_id,
        Provider::Stripe,
        Some("whsec_attackers_own"),
        None,
    )
    .await
    .unwrap()
    .endpoint
    .id;
    let client = pool.get().await.unwrap();
    // The attacker's known secret moved onto the victim's endpoint (its own retired there).
    client.execute("UPDATE webhook_secrets SET retired_at = now() WHERE endpoint_id = $1", &[&victim]).await.unwrap();
    client
        .execute("UPDATE webhook_secrets SET endpoint_id = $1 WHERE endpoint_id = $2", &[&victim, &attacker])
        .await
        .unwrap();
    let moved = verification_keys(&client, Some(&key), victim, Provider::Stripe).await;
    assert!(matches!(moved, Err(WebhookError::Corrupt(_))), "a moved secret opened: {:?}", moved.err());
    // Bytes altered in place, on an endpoint of its own.
    let tenant = create_tenant(&pool, &Actor::cli(), "other").await.unwrap();
    let altered_endpoint =
        create_endpoint(&pool, Some(&key), &Actor::cli(), tenant.id, Provider::Stripe, Some(STRIPE_SECRET), None)
            .await
            .unwrap()
            .endpoint
            .id;
    verifies(&pool, &key, altered_endpoint, STRIPE_SECRET, 1).await;
    let victim = altered_endpoint;
    client
        .execute(
            "UPDATE webhook_secrets SET secret_sealed = set_byte(secret_sealed, 12, get_byte(secret_sealed, 12) # 1)
             WHERE endpoint_id = $1",
            &[&victim],
        )
        .await
        .unwrap();
    let altered = verification_keys(&client, Some(&key), victim, Provider::Stripe).await;
    assert!(matches!(altered, Err(WebhookError::Corrupt(_))), "{:?}", altered.err());
}
