use serde::{Deserialize, Serialize};

use super::Account;
use crate::money::{AmountMinor, Currency};
use crate::payment::PaymentEvent;
use crate::settlement::{LineKind, SettlementLine};

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
    /// A succeeded refund the gateway reported failed: its money back.
    RefundReversed,
    DisputeOpened,
    DisputeWon,
    DisputeLost,
    /// A settlement line's fee (or a fee line), charged or given back.
    Fee,
    /// A settlement payout line: money to (or back from) the bank, with its fee.
    Payout,
    /// A settlement adjustment line, with its fee.
    Adjustment,
}

impl JournalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalKind::Capture => "capture",
            JournalKind::Refund => "refund",
            JournalKind::RefundReversed => "refund_reversed",
            JournalKind::DisputeOpened => "dispute_opened",
            JournalKind::DisputeWon => "dispute_won",
            JournalKind::DisputeLost => "dispute_lost",
            JournalKind::Fee => "fee",
            JournalKind::Payout => "payout",
            JournalKind::Adjustment => "adjustment",
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

    /// Moves `signed_minor` (debit-positive on `account`) between `account` and
    /// `gateway_receivable`; nothing for zero. A magnitude above `AmountMinor::MAX` cannot
    /// come from a parsed report (each cell is capped there), so it posts nothing rather
    /// than an amount the journal could not hold.
    fn push_against_receivable(&mut self, account: Account, signed_minor: i64, currency: Currency) {
        let Some(amount_minor) = signed_minor.checked_abs().and_then(|m| AmountMinor::new(m).ok()) else {
            return;
        };
        let (debit, credit) = if signed_minor > 0 {
            (account, Account::GatewayReceivable)
        } else {
            (Account::GatewayReceivable, account)
        };
        let line = |account, side| PostingLine { account, side, amount_minor, currency };
        self.lines.extend([line(debit, Side::Debit), line(credit, Side::Credit)]);
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
        PaymentEvent::RefundReversed { amount_minor, currency, .. } => {
            Some(transfer(JournalKind::RefundReversed, GatewayReceivable, Refunds, *amount_minor, *currency))
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

/// The journal transaction a settlement report line posts (see the module docs' postings);
/// `None` for a duplicate line and for a line that moves nothing the ledger did not already
/// record. Every line moves `gateway_receivable` by its own money only: a charge, refund or
/// chargeback by `-fee` (the rest was posted with the capture, refund or dispute), any other
/// line by `net`. A fee line's whole `net` is a fee; a payout's or adjustment's fee posts to
/// `processing_fees` and the rest of its net (`net + fee`) to `bank` or
/// `settlement_adjustments`.
pub fn postings_for_settlement_line(line: &SettlementLine, duplicate: bool) -> Option<JournalTransaction> {
    if duplicate {
        return None;
    }
    // (kind, the line's own account, its movement debit-positive on that account, the fee's
    // on `processing_fees`): the gateway balance moves the other way.
    let rest = line.net_minor.saturating_add(line.fee_minor);
    let (kind, own, own_minor, fee_minor) = match line.kind {
        LineKind::Charge | LineKind::Refund | LineKind::Dispute | LineKind::DisputeReversal => {
            (JournalKind::Fee, Account::ProcessingFees, 0, line.fee_minor)
        }
        LineKind::Fee => (JournalKind::Fee, Account::ProcessingFees, line.net_minor.saturating_neg(), 0),
        LineKind::Payout => (JournalKind::Payout, Account::Bank, rest.saturating_neg(), line.fee_minor),
        LineKind::Adjustment => {
            (JournalKind::Adjustment, Account::SettlementAdjustments, rest.saturating_neg(), line.fee_minor)
        }
    };
    let mut transaction = JournalTransaction { kind, lines: Vec::new() };
    transaction.push_against_receivable(own, own_minor, line.currency);
    transaction.push_against_receivable(Account::ProcessingFees, fee_minor, line.currency);
    (!transaction.lines.is_empty()).then_some(transaction)
}
