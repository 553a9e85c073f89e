use serde::{Deserialize, Serialize};

use super::Account;
use crate::money::{AmountMinor, Currency};
use crate::payment::PaymentEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Debit,
    Credit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PostingLine {
    pub account: Account,
    pub side: Side,
    pub amount_minor: AmountMinor,
    pub currency: Currency,
}

/// Which money movement a transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalKind {
    Capture,
    Refund,
    DisputeOpened,
    DisputeWon,
    DisputeLost,
}

impl JournalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalKind::Capture => "capture",
            JournalKind::Refund => "refund",
            JournalKind::DisputeOpened => "dispute_opened",
            JournalKind::DisputeWon => "dispute_won",
            JournalKind::DisputeLost => "dispute_lost",
        }
    }
}

/// Lines posted together for one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalTransaction {
    pub kind: JournalKind,
    pub lines: Vec<PostingLine>,
}

impl JournalTransaction {
    /// One debit and one credit of the same money.
    fn transfer(
        kind: JournalKind,
        debit: Account,
        credit: Account,
        amount_minor: AmountMinor,
        currency: Currency,
    ) -> Self {
        let line = |account, side| PostingLine { account, side, amount_minor, currency };
        JournalTransaction { kind, lines: vec![line(debit, Side::Debit), line(credit, Side::Credit)] }
    }

    /// Debits equal credits in every currency.
    pub fn is_balanced(&self) -> bool {
        let mut currencies: Vec<Currency> = self.lines.iter().map(|line| line.currency).collect();
        currencies.sort();
        currencies.dedup();
        currencies.into_iter().all(|currency| {
            let net: i128 = self
                .lines
                .iter()
                .filter(|line| line.currency == currency)
                .map(|line| match line.side {
                    Side::Debit => i128::from(line.amount_minor.get()),
                    Side::Credit => -i128::from(line.amount_minor.get()),
                })
                .sum();
            net == 0
        })
    }
}

/// The journal transaction an event posts; `None` for events that move no money.
pub fn postings_for(event: &PaymentEvent) -> Option<JournalTransaction> {
    use Account::{ChargebackLosses, DisputesHeld, GatewayReceivable, Refunds, SalesRevenue};
    let transfer = JournalTransaction::transfer;
    match event {
        PaymentEvent::PaymentCaptured { amount_minor, currency, .. } => {
            Some(transfer(JournalKind::Capture, GatewayReceivable, SalesRevenue, *amount_minor, *currency))
        }
        PaymentEvent::RefundSucceeded { amount_minor, currency, from_total_minor, .. } => {
            // The part counted from the gateway's running total was posted then.
            let new_money = amount_minor.excess_over(*from_total_minor)?;
            Some(transfer(JournalKind::Refund, Refunds, GatewayReceivable, new_money, *currency))
        }
        PaymentEvent::RefundAttributed { amount_minor, currency, from_total_minor, .. } => {
            let new_money = amount_minor.excess_over(*from_total_minor)?;
            Some(transfer(JournalKind::Refund, Refunds, GatewayReceivable, new_money, *currency))
        }
        PaymentEvent::RefundTotalReported { amount_minor, currency, .. } => {
            Some(transfer(JournalKind::Refund, Refunds, GatewayReceivable, *amount_minor, *currency))
        }
        PaymentEvent::DisputeOpened { amount_minor, currency, .. } => {
            Some(transfer(JournalKind::DisputeOpened, DisputesHeld, GatewayReceivable, *amount_minor, *currency))
        }
        PaymentEvent::DisputeWon { amount_minor, currency, .. } => {
            Some(transfer(JournalKind::DisputeWon, GatewayReceivable, DisputesHeld, *amount_minor, *currency))
        }
        PaymentEvent::DisputeLost { amount_minor, currency, .. } => {
            Some(transfer(JournalKind::DisputeLost, ChargebackLosses, DisputesHeld, *amount_minor, *currency))
        }
        PaymentEvent::PaymentInitiated { .. }
        | PaymentEvent::PaymentAuthorized { .. }
        | PaymentEvent::PaymentAuthorizationConfirmed { .. }
        | PaymentEvent::PaymentCaptureConfirmed { .. }
        | PaymentEvent::PaymentVoided { .. }
        | PaymentEvent::PaymentAuthorizationReleased { .. }
        | PaymentEvent::PaymentFailed { .. }
        | PaymentEvent::RefundRequested { .. }
        | PaymentEvent::RefundFailed { .. }
        | PaymentEvent::RefundReferenceLearned { .. }
        | PaymentEvent::WebhookIgnored { .. } => None,
    }
}
