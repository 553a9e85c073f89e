//! Identifier newtypes. Each wraps a UUID (v7 when minted here, so ids sort by
//! creation time) and cannot be mixed up with another kind of id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Why an id or a stream id did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("not a UUID: {0:?}")]
    NotAUuid(String),
    #[error("not a stream id of this kind (expected prefix {expected_prefix:?}): {stream_id:?}")]
    WrongStreamKind { expected_prefix: &'static str, stream_id: String },
    #[error("unknown stream id {0:?} (expected order-<uuid> or payment-<uuid>)")]
    UnknownStream(String),
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh time-ordered (v7) id.
            #[allow(clippy::new_without_default)] // a Default that mints random ids would surprise
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| IdError::NotAUuid(s.to_owned()))
            }
        }
    };
}

macro_rules! stream_named {
    ($name:ident, $prefix:literal) => {
        impl $name {
            /// Prefix of this aggregate's stream ids, including the dash.
            pub const STREAM_PREFIX: &'static str = $prefix;

            /// The event stream of this aggregate, e.g. `payment-0190...`.
            pub fn stream_id(&self) -> String {
                format!("{}{}", Self::STREAM_PREFIX, self.0.hyphenated())
            }

            pub fn from_stream_id(stream_id: &str) -> Result<Self, IdError> {
                let uuid = stream_id.strip_prefix(Self::STREAM_PREFIX).ok_or_else(|| IdError::WrongStreamKind {
                    expected_prefix: Self::STREAM_PREFIX,
                    stream_id: stream_id.to_owned(),
                })?;
                uuid.parse()
            }
        }
    };
}

uuid_id!(
    /// A tenant: every key, stream and read-model row belongs to one.
    TenantId
);
uuid_id!(OrderId);
uuid_id!(PaymentId);
uuid_id!(
    /// A refund; lives in its payment's stream.
    RefundId
);
uuid_id!(
    /// A dispute (chargeback); lives in its payment's stream.
    DisputeId
);

uuid_id!(
    /// A settlement report (one file from a gateway); its stream is `settlement-<id>`.
    SettlementReportId
);

uuid_id!(
    /// A job (long work off the request thread); its stream is `job-<id>`.
    JobId
);

stream_named!(OrderId, "order-");
stream_named!(PaymentId, "payment-");
stream_named!(SettlementReportId, "settlement-");
stream_named!(JobId, "job-");

impl RefundId {
    /// The id of a refund first learnt from a gateway report: derived from the
    /// payment and the gateway's refund reference, so that reprocessing the
    /// same report yields the same id.
    pub fn for_gateway_refund(payment_id: PaymentId, provider_refund_reference: &str) -> RefundId {
        RefundId(derived_uuid(payment_id, "refund", provider_refund_reference))
    }
}

impl DisputeId {
    /// As [`RefundId::for_gateway_refund`], for disputes.
    pub fn for_gateway_dispute(payment_id: PaymentId, provider_dispute_reference: &str) -> DisputeId {
        DisputeId(derived_uuid(payment_id, "dispute", provider_dispute_reference))
    }
}

/// A UUIDv8 from SHA-256 over (payment id, kind, reference). Deterministic
/// without a clock or randomness, which keeps `decide` pure.
fn derived_uuid(payment_id: PaymentId, kind: &str, reference: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(payment_id.0.as_bytes())
        .chain_update(kind.as_bytes())
        .chain_update([0u8])
        .chain_update(reference.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// A parsed stream id: which aggregate a stream belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamRef {
    Order(OrderId),
    Payment(PaymentId),
}

impl StreamRef {
    pub fn parse(stream_id: &str) -> Result<StreamRef, IdError> {
        if stream_id.starts_with(OrderId::STREAM_PREFIX) {
            OrderId::from_stream_id(stream_id).map(StreamRef::Order)
        } else if stream_id.starts_with(PaymentId::STREAM_PREFIX) {
            PaymentId::from_stream_id(stream_id).map(StreamRef::Payment)
        } else {
            Err(IdError::UnknownStream(stream_id.to_owned()))
        }
    }

    pub fn stream_id(&self) -> String {
        match self {
            StreamRef::Order(id) => id.stream_id(),
            StreamRef::Payment(id) => id.stream_id(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_v7_and_distinct() {
        let (a, b) = (PaymentId::new(), PaymentId::new());
        assert_ne!(a, b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn display_parse_and_serde_round_trip() {
        let id = OrderId::new();
        assert_eq!(id.to_string().parse::<OrderId>(), Ok(id));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<OrderId>(&json).unwrap(), id);
        assert!("nope".parse::<OrderId>().is_err());
    }

    #[test]
    fn stream_ids_round_trip_and_refuse_the_wrong_kind() {
        let payment = PaymentId::new();
        let stream = payment.stream_id();
        assert_eq!(stream, format!("payment-{payment}"));
        assert_eq!(PaymentId::from_stream_id(&stream), Ok(payment));
        assert!(matches!(OrderId::from_stream_id(&stream), Err(IdError::WrongStreamKind { .. })));
        assert_eq!(StreamRef::parse(&stream), Ok(StreamRef::Payment(payment)));
        let order = OrderId::new();
        assert_eq!(StreamRef::parse(&order.stream_id()), Ok(StreamRef::Order(order)));
        assert!(matches!(StreamRef::parse("inbox-stripe"), Err(IdError::UnknownStream(_))));
        assert!(matches!(StreamRef::parse("order-xyz"), Err(IdError::NotAUuid(_))));
    }

    #[test]
    fn gateway_derived_ids_are_deterministic_and_scoped() {
        let payment = PaymentId::new();
        let a = RefundId::for_gateway_refund(payment, "re_1");
        assert_eq!(a, RefundId::for_gateway_refund(payment, "re_1"));
        assert_ne!(a, RefundId::for_gateway_refund(payment, "re_2"));
        assert_ne!(a, RefundId::for_gateway_refund(PaymentId::new(), "re_1"));
        assert_ne!(a.as_uuid(), DisputeId::for_gateway_dispute(payment, "re_1").as_uuid());
        assert_eq!(a.as_uuid().get_version_num(), 8);
    }
}
