use chrono::{DateTime, Utc};

use super::{CaptureMethod, DisputeOutcome, GatewayReport, Provider};
use crate::ids::{DisputeId, PaymentId, RefundId};
use crate::money::{AmountMinor, Currency};
use crate::order::OrderSnapshot;

#[derive(Debug, Clone, PartialEq)]
pub enum PaymentCommand {
    Initiate {
        payment_id: PaymentId,
        order: OrderSnapshot,
        amount_minor: AmountMinor,
        currency: Currency,
        capture_method: CaptureMethod,
        provider: Provider,
        provider_reference: Option<String>,
        at: DateTime<Utc>,
    },
    /// `None`: the whole payment amount.
    Authorize {
        amount_minor: Option<AmountMinor>,
    },
    /// `None`: all that is capturable. `final_capture` releases the rest of
    /// the authorization.
    Capture {
        amount_minor: Option<AmountMinor>,
        final_capture: bool,
    },
    Void,
    Fail {
        code: String,
        message: String,
    },
    RequestRefund {
        refund_id: RefundId,
        amount_minor: AmountMinor,
        reason: Option<String>,
        provider_reference: Option<String>,
        at: DateTime<Utc>,
    },
    SucceedRefund {
        refund_id: RefundId,
    },
    FailRefund {
        refund_id: RefundId,
        code: Option<String>,
        message: Option<String>,
    },
    OpenDispute {
        dispute_id: DisputeId,
        amount_minor: AmountMinor,
        reason: Option<String>,
        provider_reference: Option<String>,
        at: DateTime<Utc>,
    },
    ResolveDispute {
        dispute_id: DisputeId,
        outcome: DisputeOutcome,
    },
    /// A fact reported by the gateway (webhook). Never refused for being
    /// stale or duplicate: those are recorded as `WebhookIgnored`.
    ApplyGatewayReport(GatewayReport),
}

/// The commands of the transition table, without their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Initiate,
    Authorize,
    Capture,
    Void,
    Fail,
    RequestRefund,
    SucceedRefund,
    FailRefund,
    OpenDispute,
    ResolveDispute,
    /// A dispute the gateway reports (a chargeback): a fact to record, not a
    /// request. No `PaymentCommand` has this kind; gateway reports use it.
    RecordDispute,
    /// A refund the gateway reports while a running total has counted unattributed refund
    /// money (see `PaymentEvent::RefundAttributed`): a fact to record, not a request.
    RecordRefund,
    /// Capture money the gateway reports (new money, or money a later fact implies): a fact
    /// to record, also after capture closed. A client's capture after close stays refused.
    RecordCapture,
    /// A refund the gateway reports failed after it had succeeded (or after a running total
    /// settled it): the money comes back (see `PaymentEvent::RefundReversed`).
    ReverseRefund,
}

impl CommandKind {
    pub const ALL: [CommandKind; 14] = [
        CommandKind::Initiate,
        CommandKind::Authorize,
        CommandKind::Capture,
        CommandKind::Void,
        CommandKind::Fail,
        CommandKind::RequestRefund,
        CommandKind::SucceedRefund,
        CommandKind::FailRefund,
        CommandKind::OpenDispute,
        CommandKind::ResolveDispute,
        CommandKind::RecordDispute,
        CommandKind::RecordRefund,
        CommandKind::RecordCapture,
        CommandKind::ReverseRefund,
    ];
}

impl PaymentCommand {
    /// The table row this command uses; `None` for gateway reports, which
    /// are reconciled step by step rather than looked up once.
    pub fn kind(&self) -> Option<CommandKind> {
        match self {
            PaymentCommand::Initiate { .. } => Some(CommandKind::Initiate),
            PaymentCommand::Authorize { .. } => Some(CommandKind::Authorize),
            PaymentCommand::Capture { .. } => Some(CommandKind::Capture),
            PaymentCommand::Void => Some(CommandKind::Void),
            PaymentCommand::Fail { .. } => Some(CommandKind::Fail),
            PaymentCommand::RequestRefund { .. } => Some(CommandKind::RequestRefund),
            PaymentCommand::SucceedRefund { .. } => Some(CommandKind::SucceedRefund),
            PaymentCommand::FailRefund { .. } => Some(CommandKind::FailRefund),
            PaymentCommand::OpenDispute { .. } => Some(CommandKind::OpenDispute),
            PaymentCommand::ResolveDispute { .. } => Some(CommandKind::ResolveDispute),
            PaymentCommand::ApplyGatewayReport(_) => None,
        }
    }
}
