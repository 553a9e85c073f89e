use serde::{Deserialize, Serialize};

/// One provider event, in provider-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Identifies this event across redeliveries. Stripe/generic: the event `id`;
    /// Adyen: `pspReference:eventCode:success`.
    pub dedupe_key: String,
    /// The provider's own name for the event (`payment_intent.succeeded`, `CAPTURE`).
    pub provider_event_type: String,
    /// The id the payment is known by at the gateway (Stripe PaymentIntent id, Adyen
    /// payment pspReference); `None` when the event does not say.
    pub payment_reference: Option<String>,
    pub kind: NotificationKind,
    /// When the provider says the event happened (Stripe `created`, Adyen `eventDate`).
    pub occurred_at_unix_s: Option<i64>,
}

/// What happened to the payment. Amounts are integer minor units; `currency` is the
/// ISO code as sent, uppercased (the caller validates it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationKind {
    /// Funds are held and may be captured up to `amount_minor`.
    Authorized {
        amount_minor: i64,
        currency: String,
    },
    /// `cumulative`: `amount_minor` is the total captured so far on the payment (Stripe
    /// `amount_received`), not the amount of this one capture (Adyen `CAPTURE`).
    Captured {
        amount_minor: i64,
        currency: String,
        cumulative: bool,
    },
    Failed {
        code: Option<String>,
        message: Option<String>,
    },
    Canceled,
    /// `cumulative`: `amount_minor` is the total refunded so far on the payment, and
    /// `refund_reference` names that total rather than one refund. Only Stripe's
    /// `charge.refunded` without a refund list produces this; apply it as "refunded is
    /// at least this much", never by adding it to individual refunds.
    Refunded {
        refund_reference: String,
        amount_minor: i64,
        currency: String,
        cumulative: bool,
    },
    RefundFailed {
        refund_reference: String,
    },
    DisputeOpened {
        dispute_reference: String,
        amount_minor: i64,
        currency: String,
    },
    DisputeClosed {
        dispute_reference: String,
        won: bool,
    },
    /// An event type this crate does not map (or a state with no effect, such as a
    /// pending refund). Recorded and ignored, never an error.
    Unknown,
}
