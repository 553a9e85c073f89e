//! Commands to events: validates the request's text fields and dispatches
//! to the steps (see `steps`), which consult the transition table.

use super::steps::{
    authorize, capture, fail, fail_refund, open_dispute, request_refund, resolve_dispute, succeed_refund, void,
    NewDispute, NewRefund, Source,
};
use super::table::transition;
use super::{reconcile, CommandKind, Payment, PaymentCommand, PaymentEvent, PaymentState};
use crate::error::DomainError;
use crate::money::MinorUnits;
use crate::order::OrderStatus;
use crate::text;

pub fn decide(state: &PaymentState, command: PaymentCommand) -> Result<Vec<PaymentEvent>, DomainError> {
    let existing = |kind: CommandKind| -> Result<&Payment, DomainError> {
        match state {
            Some(payment) => Ok(payment),
            // The table refuses every command but Initiate on a missing payment.
            None => transition(None, kind).and(Err(DomainError::PaymentNotFound)),
        }
    };
    match command {
        PaymentCommand::Initiate {
            payment_id,
            order,
            amount_minor,
            currency,
            capture_method,
            provider,
            provider_reference,
            at,
        } => {
            transition(state.as_ref().map(|payment| payment.status), CommandKind::Initiate)?;
            match order.status {
                OrderStatus::Open => {}
                OrderStatus::Cancelled => return Err(DomainError::OrderNotOpen { status: order.status }),
            }
            if currency != order.currency {
                return Err(DomainError::CurrencyMismatch { expected: order.currency, actual: currency });
            }
            let available = MinorUnits::from(order.amount_minor).saturating_sub(order.amount_committed);
            if !available.covers(amount_minor) {
                return Err(DomainError::AmountExceedsOrder {
                    requested: amount_minor,
                    available,
                    order_amount: order.amount_minor,
                    currency,
                });
            }
            text::optional("provider_reference", provider_reference.as_deref(), text::SHORT_TEXT_MAX_CHARS)?;
            Ok(vec![PaymentEvent::PaymentInitiated {
                payment_id,
                order_id: order.order_id,
                amount_minor,
                currency,
                capture_method,
                provider,
                provider_reference,
                initiated_at: at,
            }])
        }
        PaymentCommand::Authorize { amount_minor } => {
            authorize(existing(CommandKind::Authorize)?, amount_minor, Source::Api)
        }
        PaymentCommand::Capture { amount_minor, final_capture } => {
            capture(existing(CommandKind::Capture)?, amount_minor, final_capture, Source::Api)
        }
        PaymentCommand::Void => void(existing(CommandKind::Void)?, Source::Api),
        PaymentCommand::Fail { code, message } => {
            text::required("code", &code, text::SHORT_TEXT_MAX_CHARS)?;
            text::bounded("message", &message, text::LONG_TEXT_MAX_CHARS)?;
            fail(existing(CommandKind::Fail)?, code, message, Source::Api)
        }
        PaymentCommand::RequestRefund { refund_id, amount_minor, reason, provider_reference, at } => {
            text::optional("reason", reason.as_deref(), text::LONG_TEXT_MAX_CHARS)?;
            text::optional("provider_reference", provider_reference.as_deref(), text::SHORT_TEXT_MAX_CHARS)?;
            let request = NewRefund { refund_id, amount_minor, reason, provider_reference, at };
            request_refund(existing(CommandKind::RequestRefund)?, request, Source::Api)
        }
        PaymentCommand::SucceedRefund { refund_id } => {
            succeed_refund(existing(CommandKind::SucceedRefund)?, refund_id, None, Source::Api)
        }
        PaymentCommand::FailRefund { refund_id, code, message } => {
            text::optional("code", code.as_deref(), text::SHORT_TEXT_MAX_CHARS)?;
            text::optional("message", message.as_deref(), text::LONG_TEXT_MAX_CHARS)?;
            fail_refund(existing(CommandKind::FailRefund)?, refund_id, code, message, None, Source::Api)
        }
        PaymentCommand::OpenDispute { dispute_id, amount_minor, reason, provider_reference, at } => {
            text::optional("reason", reason.as_deref(), text::LONG_TEXT_MAX_CHARS)?;
            text::optional("provider_reference", provider_reference.as_deref(), text::SHORT_TEXT_MAX_CHARS)?;
            let request = NewDispute { dispute_id, amount_minor, reason, provider_reference, at };
            open_dispute(existing(CommandKind::OpenDispute)?, request, Source::Api)
        }
        PaymentCommand::ResolveDispute { dispute_id, outcome } => {
            resolve_dispute(existing(CommandKind::ResolveDispute)?, dispute_id, outcome, Source::Api)
        }
        PaymentCommand::ApplyGatewayReport(report) => match state {
            Some(payment) => Ok(reconcile::apply(payment, report)),
            None => Err(DomainError::PaymentNotFound),
        },
    }
}
