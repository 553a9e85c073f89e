//! THE payment state machine: one declared table of (status, command) to
//! where the step lands or why it is refused. Every pair is spelled out (no
//! catch-all), so adding a status or a command fails to compile until each
//! new pair is decided. Amounts are checked after the table allows a step.

use super::{CommandKind, PaymentStatus};
use crate::error::DomainError;

/// Where an allowed step lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Always this status.
    Status(PaymentStatus),
    /// Whatever the amounts imply afterwards: authorized, partially captured,
    /// captured or refunded (see `Payment::status_from_amounts`).
    FromAmounts,
}

/// `from` is `None` while the payment does not exist.
pub fn transition(from: Option<PaymentStatus>, command: CommandKind) -> Result<Next, DomainError> {
    use CommandKind as C;
    use PaymentStatus::{Authorized, Captured, Failed, Initiated, PartiallyCaptured, Refunded, Voided};

    match (from, command) {
        // Creation.
        (None, C::Initiate) => Ok(Next::Status(Initiated)),
        (
            None,
            C::Authorize
            | C::Capture
            | C::Void
            | C::Fail
            | C::RequestRefund
            | C::SucceedRefund
            | C::FailRefund
            | C::OpenDispute
            | C::ResolveDispute
            | C::RecordDispute
            | C::RecordRefund
            | C::RecordCapture
            | C::ReverseRefund,
        ) => Err(DomainError::PaymentNotFound),
        (Some(Initiated | Authorized | PartiallyCaptured | Captured | Refunded | Voided | Failed), C::Initiate) => {
            Err(DomainError::PaymentAlreadyExists)
        }

        // Authorization: the first attempt, or a retry after a declined one.
        // Automatic capture lands on captured, hence "from amounts".
        (Some(Initiated | Failed), C::Authorize) => Ok(Next::FromAmounts),
        (Some(status @ (Authorized | PartiallyCaptured | Captured | Refunded | Voided)), C::Authorize) => {
            Err(DomainError::PaymentNotAuthorizable { status })
        }

        // Capture: while some authorization is left.
        (Some(Authorized | PartiallyCaptured), C::Capture) => Ok(Next::FromAmounts),
        (Some(status @ (Initiated | Captured | Refunded | Voided | Failed)), C::Capture) => {
            Err(DomainError::PaymentNotCapturable { status })
        }

        // Void: abandon before any money is captured. After a partial capture,
        // void releases the uncaptured rest (Stripe's cancel of a partially
        // captured PaymentIntent does the same): capture closes, the captured
        // money stays, and the payment lands on captured (or refunded).
        (Some(Initiated | Authorized | Failed), C::Void) => Ok(Next::Status(Voided)),
        (Some(PartiallyCaptured), C::Void) => Ok(Next::FromAmounts),
        (Some(status @ (Captured | Refunded | Voided)), C::Void) => Err(DomainError::PaymentNotVoidable { status }),

        // Fail: the authorization attempt was declined. Once authorized, the
        // way out is void (or a final capture), not failure.
        (Some(Initiated), C::Fail) => Ok(Next::Status(Failed)),
        (Some(status @ (Authorized | PartiallyCaptured | Captured | Refunded | Voided | Failed)), C::Fail) => {
            Err(DomainError::PaymentNotFailable { status })
        }

        // Refunds and disputes take captured money; refunded has none left.
        (Some(PartiallyCaptured | Captured), C::RequestRefund) => Ok(Next::FromAmounts),
        (Some(status @ (Initiated | Authorized | Refunded | Voided | Failed)), C::RequestRefund) => {
            Err(DomainError::PaymentNotRefundable { status })
        }
        (Some(PartiallyCaptured | Captured), C::OpenDispute) => Ok(Next::FromAmounts),
        (Some(status @ (Initiated | Authorized | Refunded | Voided | Failed)), C::OpenDispute) => {
            Err(DomainError::PaymentNotDisputable { status })
        }
        // A chargeback the gateway reports takes captured money even if it
        // was refunded: the cardholder's bank does not ask. Nothing captured
        // (gateway reports infer a capture first where one can be), nothing
        // to charge back.
        (Some(PartiallyCaptured | Captured | Refunded), C::RecordDispute) => Ok(Next::FromAmounts),
        (Some(status @ (Initiated | Authorized | Voided | Failed)), C::RecordDispute) => {
            Err(DomainError::PaymentNotDisputable { status })
        }

        // A refund the gateway reports after a running total counted its money: it
        // may land on refunded money (the total made the payment refunded first).
        // The new money it brings, if any, is bounded by the refundable amount.
        (Some(PartiallyCaptured | Captured | Refunded), C::RecordRefund) => Ok(Next::FromAmounts),
        (Some(status @ (Initiated | Authorized | Voided | Failed)), C::RecordRefund) => {
            Err(DomainError::PaymentNotRefundable { status })
        }

        // Money the gateway reports captured is a fact: recorded while capture is open and
        // also after it closed (a final capture or a void of the remainder): capture stays
        // closed, the money is captured. Nothing was ever authorized, or it was voided
        // before any capture: refused (a report infers the authorization first where one can
        // be; a capture after a full void is ignored).
        (Some(Authorized | PartiallyCaptured | Captured | Refunded), C::RecordCapture) => Ok(Next::FromAmounts),
        (Some(status @ (Initiated | Voided | Failed)), C::RecordCapture) => {
            Err(DomainError::PaymentNotCapturable { status })
        }

        // Settling a refund or a dispute: its own status decides (not found,
        // not pending, not open), checked after the table.
        (
            Some(Initiated | Authorized | PartiallyCaptured | Captured | Refunded | Voided | Failed),
            C::SucceedRefund | C::FailRefund | C::ResolveDispute | C::ReverseRefund,
        ) => Ok(Next::FromAmounts),
    }
}
