//! Given/when/then for the payment aggregate, for this crate's tests and for any crate whose
//! tests build histories (enable the `testing` feature in `[dev-dependencies]`). Test
//! support: a refused `given` is a bug in the test, so it panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::ledger::{postings_for, AccountBalances};
use crate::order::{self, Order, OrderCommand, OrderEvent, OrderSnapshot, OrderState, OrderStatus};
use crate::payment::{
    self, CaptureMethod, DisputeOutcome, GatewayReport, PaymentCommand, PaymentEvent, PaymentState, PaymentStatus,
    Provider, ReportKind,
};
use crate::{AmountMinor, Currency, DisputeId, DomainError, MinorUnits, OrderId, PaymentId, RefundId};
use chrono::{DateTime, TimeZone, Utc};

pub const PAYMENT_AMOUNT: i64 = 10_000;

pub fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, second).unwrap()
}

pub fn minor(amount: i64) -> AmountMinor {
    AmountMinor::new(amount).unwrap()
}

pub fn refund_id(n: u128) -> RefundId {
    RefundId::from(uuid::Uuid::from_u128(0x1000 + n))
}

pub fn dispute_id(n: u128) -> DisputeId {
    DisputeId::from(uuid::Uuid::from_u128(0x2000 + n))
}

pub fn payment_id() -> PaymentId {
    PaymentId::from(uuid::Uuid::from_u128(0xAB))
}

pub fn open_order(amount: i64) -> OrderSnapshot {
    OrderSnapshot {
        order_id: order_id(),
        status: OrderStatus::Open,
        amount_minor: minor(amount),
        amount_committed: MinorUnits::ZERO,
        currency: Currency::USD,
    }
}

pub fn initiate(capture_method: CaptureMethod) -> PaymentCommand {
    PaymentCommand::Initiate {
        payment_id: payment_id(),
        order: open_order(PAYMENT_AMOUNT),
        amount_minor: minor(PAYMENT_AMOUNT),
        currency: Currency::USD,
        capture_method,
        provider: Provider::Stripe,
        provider_reference: Some("pi_123".into()),
        at: at(0),
    }
}

pub fn authorize() -> PaymentCommand {
    PaymentCommand::Authorize { amount_minor: None }
}

pub fn capture(amount: Option<i64>) -> PaymentCommand {
    PaymentCommand::Capture { amount_minor: amount.map(minor), final_capture: false }
}

pub fn request_refund(n: u128, amount: i64) -> PaymentCommand {
    PaymentCommand::RequestRefund {
        refund_id: refund_id(n),
        amount_minor: minor(amount),
        reason: Some("requested_by_customer".into()),
        provider_reference: None,
        at: at(10),
    }
}

pub fn open_dispute(n: u128, amount: i64) -> PaymentCommand {
    PaymentCommand::OpenDispute {
        dispute_id: dispute_id(n),
        amount_minor: minor(amount),
        reason: Some("fraudulent".into()),
        provider_reference: None,
        at: at(20),
    }
}

pub fn resolve(n: u128, outcome: DisputeOutcome) -> PaymentCommand {
    PaymentCommand::ResolveDispute { dispute_id: dispute_id(n), outcome }
}

pub fn report(key: &str, kind: ReportKind) -> PaymentCommand {
    PaymentCommand::ApplyGatewayReport(GatewayReport::new(key, kind, at(30)))
}

/// A payment's history, built by deciding commands on it.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub events: Vec<PaymentEvent>,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    pub fn state(&self) -> PaymentState {
        payment::fold(&self.events)
    }

    pub fn payment(&self) -> crate::payment::Payment {
        self.state().expect("payment exists")
    }

    pub fn status(&self) -> PaymentStatus {
        self.payment().status
    }

    /// Decides `command` on the current state without recording it.
    pub fn when(&self, command: PaymentCommand) -> Result<Vec<PaymentEvent>, DomainError> {
        payment::decide(&self.state(), command)
    }

    /// Decides and records `command`; panics if it is refused.
    pub fn given(mut self, command: PaymentCommand) -> History {
        let events = self.when(command.clone()).unwrap_or_else(|e| panic!("{command:?} refused: {e}"));
        self.events.extend(events);
        self
    }

    /// Decides and records; returns the new events.
    pub fn record(&mut self, command: PaymentCommand) -> Result<Vec<PaymentEvent>, DomainError> {
        let events = self.when(command)?;
        self.events.extend(events.clone());
        Ok(events)
    }

    pub fn balances(&self) -> AccountBalances {
        let mut balances = AccountBalances::new();
        for transaction in self.events.iter().filter_map(postings_for) {
            balances.post(&transaction);
        }
        balances
    }
}

pub fn manual() -> History {
    History::new().given(initiate(CaptureMethod::Manual))
}

pub fn automatic() -> History {
    History::new().given(initiate(CaptureMethod::Automatic))
}

/// A representative history for each status, with a refund `1` and a
/// dispute `1` wherever the status allows them, so every row of the table
/// can be exercised.
pub fn history_in(status: PaymentStatus) -> History {
    match status {
        PaymentStatus::Initiated => manual(),
        PaymentStatus::Authorized => manual().given(authorize()),
        PaymentStatus::PartiallyCaptured => manual()
            .given(authorize())
            .given(capture(Some(6_000)))
            .given(request_refund(1, 1_000))
            .given(open_dispute(1, 1_000)),
        PaymentStatus::Captured => manual()
            .given(authorize())
            .given(capture(None))
            .given(request_refund(1, 1_000))
            .given(open_dispute(1, 1_000)),
        PaymentStatus::Refunded => manual()
            .given(authorize())
            .given(capture(None))
            .given(open_dispute(1, 1_000))
            .given(resolve(1, DisputeOutcome::Won))
            .given(request_refund(1, PAYMENT_AMOUNT))
            .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) }),
        PaymentStatus::Voided => manual().given(authorize()).given(PaymentCommand::Void),
        PaymentStatus::Failed => {
            manual().given(PaymentCommand::Fail { code: "card_declined".into(), message: "declined".into() })
        }
    }
}

pub fn order_id() -> OrderId {
    OrderId::from(uuid::Uuid::from_u128(0xCD))
}

pub fn create_order(amount: i64) -> OrderCommand {
    OrderCommand::Create {
        order_id: order_id(),
        amount_minor: minor(amount),
        currency: Currency::USD,
        reference: "ORD-1".into(),
        metadata: serde_json::json!({}),
        at: at(0),
    }
}

pub fn cancel_order(payments_in_progress: usize) -> OrderCommand {
    OrderCommand::Cancel { at: at(40), reason: Some("customer_request".into()), payments_in_progress }
}

/// An order's history, built by deciding commands on it (the order twin of [`History`]).
#[derive(Debug, Clone, Default)]
pub struct OrderHistory {
    pub events: Vec<OrderEvent>,
}

impl OrderHistory {
    pub fn new() -> OrderHistory {
        OrderHistory::default()
    }

    pub fn state(&self) -> OrderState {
        order::fold(&self.events)
    }

    pub fn order(&self) -> Order {
        self.state().expect("order exists")
    }

    /// Decides `command` on the current state without recording it.
    pub fn when(&self, command: OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
        order::decide(&self.state(), command)
    }

    /// Decides and records `command`; panics if it is refused.
    pub fn given(mut self, command: OrderCommand) -> OrderHistory {
        let events = self.when(command.clone()).unwrap_or_else(|e| panic!("{command:?} refused: {e}"));
        self.events.extend(events);
        self
    }
}
