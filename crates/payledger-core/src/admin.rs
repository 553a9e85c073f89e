//! Admin actions as facts of the ledger: creating a tenant, setting its time zone, creating, rolling or revoking an
//! API key, changing its limits, creating a webhook endpoint, adding or retiring its secrets,
//! creating or revoking an OAuth client.
//! Each is appended in the stream of what it changed (`tenant-<id>`, `api-key-<id>`,
//! `webhook-endpoint-<id>`) in the same transaction as the change to the lookup tables
//! (`tenants`, `api_keys`, `webhook_endpoints`, `webhook_secrets`), so the history shows who
//! did what and when. No secret is ever in one: a key appears by its prefix, a webhook
//! secret by its last characters.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Schema version of every admin event's payload.
pub const ADMIN_SCHEMA_VERSION: i32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AdminEvent {
    TenantCreated {
        tenant_id: Uuid,
        name: String,
    },
    TenantTimeZoneSet {
        tenant_id: Uuid,
        time_zone: String,
    },
    ApiKeyCreated {
        key_id: Uuid,
        role: String,
        mode: String,
        prefix: String,
        label: Option<String>,
        expires_at: Option<String>,
    },
    ApiKeyRolled {
        key_id: Uuid,
        successor_id: Uuid,
        old_expires_at: String,
    },
    ApiKeyRevoked {
        key_id: Uuid,
    },
    ApiKeyRateLimitSet {
        key_id: Uuid,
        rate_limit_per_s: Option<i32>,
        rate_limit_burst: Option<i32>,
    },
    ApiKeyAllowedIpsSet {
        key_id: Uuid,
        allowed_ips: Option<Vec<String>>,
    },
    WebhookEndpointCreated {
        endpoint_id: Uuid,
        provider: String,
        label: Option<String>,
    },
    WebhookSecretAdded {
        endpoint_id: Uuid,
        secret_id: Uuid,
        hint: String,
    },
    WebhookSecretRetired {
        endpoint_id: Uuid,
        secret_id: Uuid,
    },
    OAuthClientCreated {
        client_id: Uuid,
        role: String,
        mode: String,
        label: Option<String>,
        allowed_ips: Option<Vec<String>>,
    },
    OAuthClientRevoked {
        client_id: Uuid,
    },
}

impl AdminEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            AdminEvent::TenantCreated { .. } => "TenantCreated",
            AdminEvent::TenantTimeZoneSet { .. } => "TenantTimeZoneSet",
            AdminEvent::ApiKeyCreated { .. } => "ApiKeyCreated",
            AdminEvent::ApiKeyRolled { .. } => "ApiKeyRolled",
            AdminEvent::ApiKeyRevoked { .. } => "ApiKeyRevoked",
            AdminEvent::ApiKeyRateLimitSet { .. } => "ApiKeyRateLimitSet",
            AdminEvent::ApiKeyAllowedIpsSet { .. } => "ApiKeyAllowedIpsSet",
            AdminEvent::WebhookEndpointCreated { .. } => "WebhookEndpointCreated",
            AdminEvent::WebhookSecretAdded { .. } => "WebhookSecretAdded",
            AdminEvent::WebhookSecretRetired { .. } => "WebhookSecretRetired",
            AdminEvent::OAuthClientCreated { .. } => "OAuthClientCreated",
            AdminEvent::OAuthClientRevoked { .. } => "OAuthClientRevoked",
        }
    }

    /// The stream of the thing the action changed.
    pub fn stream_id(&self) -> String {
        match self {
            AdminEvent::TenantCreated { tenant_id, .. } | AdminEvent::TenantTimeZoneSet { tenant_id, .. } => {
                format!("tenant-{tenant_id}")
            }
            AdminEvent::ApiKeyCreated { key_id, .. }
            | AdminEvent::ApiKeyRolled { key_id, .. }
            | AdminEvent::ApiKeyRevoked { key_id }
            | AdminEvent::ApiKeyRateLimitSet { key_id, .. }
            | AdminEvent::ApiKeyAllowedIpsSet { key_id, .. } => format!("api-key-{key_id}"),
            AdminEvent::WebhookEndpointCreated { endpoint_id, .. }
            | AdminEvent::WebhookSecretAdded { endpoint_id, .. }
            | AdminEvent::WebhookSecretRetired { endpoint_id, .. } => format!("webhook-endpoint-{endpoint_id}"),
            AdminEvent::OAuthClientCreated { client_id, .. } | AdminEvent::OAuthClientRevoked { client_id } => {
                format!("oauth-client-{client_id}")
            }
        }
    }

    pub fn to_payload(&self) -> Value {
        // Serialising plain fields (ids, strings, integers) cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_names_its_type_and_stream_and_carries_its_fields() {
        let key_id = Uuid::now_v7();
        let rolled = AdminEvent::ApiKeyRolled { key_id, successor_id: Uuid::nil(), old_expires_at: "t".into() };
        assert_eq!(rolled.event_type(), "ApiKeyRolled");
        assert_eq!(rolled.stream_id(), format!("api-key-{key_id}"));
        assert_eq!(rolled.to_payload()["successor_id"], serde_json::json!(Uuid::nil()));
        let added = AdminEvent::WebhookSecretAdded { endpoint_id: key_id, secret_id: key_id, hint: "abcd".into() };
        assert_eq!(added.stream_id(), format!("webhook-endpoint-{key_id}"));
    }
}
