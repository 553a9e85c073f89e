use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a payment is in its life. The amounts (authorized, captured,
/// refunded, disputed) say the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Created, no authorization yet.
    Initiated,
    /// Funds are held; nothing captured.
    Authorized,
    /// Some of the authorization captured; more may follow.
    PartiallyCaptured,
    /// Capture complete (all of the authorization, a final capture, or a void of the
    /// remainder). The gateway's later report of more captured money is recorded here.
    Captured,
    /// Capture complete and every captured unit refunded. Terminal.
    Refunded,
    /// Released before any capture. Terminal.
    Voided,
    /// The last attempt was declined. A later authorization may still succeed
    /// (gateways such as Stripe retry the same payment).
    Failed,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 7] = [
        PaymentStatus::Initiated,
        PaymentStatus::Authorized,
        PaymentStatus::PartiallyCaptured,
        PaymentStatus::Captured,
        PaymentStatus::Refunded,
        PaymentStatus::Voided,
        PaymentStatus::Failed,
    ];

    /// The API's name for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Initiated => "initiated",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::PartiallyCaptured => "partially_captured",
            PaymentStatus::Captured => "captured",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Voided => "voided",
            PaymentStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Authorization and capture together: authorizing captures it all.
    Automatic,
    /// The merchant captures later, in one or more partial captures.
    Manual,
}

impl CaptureMethod {
    pub const ALL: [CaptureMethod; 2] = [CaptureMethod::Automatic, CaptureMethod::Manual];

    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        }
    }
}

/// The gateway that processes a payment, and the sender of its webhooks: the lowercase name
/// is also the `{provider}` path segment of `POST /v1/webhooks/{provider}/{endpoint_id}`.
/// The only provider enum: `payledger-gateways` re-exports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Stripe,
    Adyen,
    /// Any gateway or internal service signing with the Stripe scheme under
    /// `Payledger-Signature`.
    Generic,
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Stripe, Provider::Adyen, Provider::Generic];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Adyen => "adyen",
            Provider::Generic => "generic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?} (expected stripe, adyen or generic)")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stripe" => Ok(Provider::Stripe),
            "adyen" => Ok(Provider::Adyen),
            "generic" => Ok(Provider::Generic),
            other => Err(UnknownProvider(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Requested; its amount is reserved against the refundable amount.
    Pending,
    Succeeded,
    /// Released its reservation.
    Failed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [RefundStatus::Pending, RefundStatus::Succeeded, RefundStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// The gateway holds the disputed amount back.
    Open,
    /// Decided for the merchant: the held amount is released.
    Won,
    /// Decided for the cardholder: the held amount is gone.
    Lost,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 3] = [DisputeStatus::Open, DisputeStatus::Won, DisputeStatus::Lost];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Won => "won",
            DisputeStatus::Lost => "lost",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeOutcome {
    Won,
    Lost,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each `ALL` list names every variant once, under the name serde writes: the API's
    /// documented enums are built from these lists.
    fn listed_as_serialized<T: Serialize + Copy>(all: &[T], name: fn(T) -> &'static str) {
        let names: std::collections::BTreeSet<&str> = all.iter().map(|v| name(*v)).collect();
        assert_eq!(names.len(), all.len(), "a name is listed twice");
        for value in all {
            assert_eq!(serde_json::to_value(value).unwrap(), serde_json::json!(name(*value)));
        }
    }

    #[test]
    fn every_all_list_is_complete_and_named_as_serialized() {
        // The matches fail to compile when a variant is added, pointing here and at `ALL`.
        let count = |s: PaymentStatus| match s {
            PaymentStatus::Initiated
            | PaymentStatus::Authorized
            | PaymentStatus::PartiallyCaptured
            | PaymentStatus::Captured
            | PaymentStatus::Refunded
            | PaymentStatus::Voided
            | PaymentStatus::Failed => 7,
        };
        assert_eq!(PaymentStatus::ALL.len(), count(PaymentStatus::Initiated));
        let count = |c: CaptureMethod| match c {
            CaptureMethod::Automatic | CaptureMethod::Manual => 2,
        };
        assert_eq!(CaptureMethod::ALL.len(), count(CaptureMethod::Manual));
        let count = |p: Provider| match p {
            Provider::Stripe | Provider::Adyen | Provider::Generic => 3,
        };
        assert_eq!(Provider::ALL.len(), count(Provider::Stripe));
        let count = |r: RefundStatus| match r {
            RefundStatus::Pending | RefundStatus::Succeeded | RefundStatus::Failed => 3,
        };
        assert_eq!(RefundStatus::ALL.len(), count(RefundStatus::Pending));
        let count = |d: DisputeStatus| match d {
            DisputeStatus::Open | DisputeStatus::Won | DisputeStatus::Lost => 3,
        };
        assert_eq!(DisputeStatus::ALL.len(), count(DisputeStatus::Open));
        listed_as_serialized(&PaymentStatus::ALL, PaymentStatus::as_str);
        listed_as_serialized(&CaptureMethod::ALL, CaptureMethod::as_str);
        listed_as_serialized(&Provider::ALL, Provider::as_str);
        listed_as_serialized(&RefundStatus::ALL, RefundStatus::as_str);
        listed_as_serialized(&DisputeStatus::ALL, DisputeStatus::as_str);
    }
}
