//! Double-entry bookkeeping: the chart of accounts and the journal
//! transaction each money event posts.
//!
//! # Chart of accounts
//!
//! | account | type | normal side | holds |
//! |---|---|---|---|
//! | `gateway_receivable` | asset | debit | money the gateway owes us: captured, not yet refunded or held back |
//! | `disputes_held` | asset | debit | money the gateway holds back while a dispute is open |
//! | `sales_revenue` | revenue | credit | captured sales |
//! | `refunds` | contra-revenue | debit | sales given back by refunds |
//! | `chargeback_losses` | expense | debit | disputes lost |
//! | `processing_fees` | expense | debit | fees the gateway kept (settlement reports) |
//! | `bank` | asset | debit | money the gateway paid out to the merchant's bank |
//! | `settlement_adjustments` | expense | debit | the gateway's corrections; one in our favour credits it (a gain) |
//!
//! # Postings
//!
//! | event | debit | credit |
//! |---|---|---|
//! | `PaymentCaptured` | `gateway_receivable` | `sales_revenue` |
//! | `RefundSucceeded` | `refunds` | `gateway_receivable` |
//! | `DisputeOpened` | `disputes_held` | `gateway_receivable` |
//! | `DisputeWon` | `gateway_receivable` | `disputes_held` |
//! | `DisputeLost` | `chargeback_losses` | `disputes_held` |
//! | `RefundReversed` | `gateway_receivable` | `refunds` |
//!
//! A settlement report line (`SettlementLineReported`, see `docs/SETTLEMENT.md`) posts one
//! transaction, of kind `fee`, `payout` or `adjustment`, in the line's `currency`:
//!
//! | line | debit | credit | amount |
//! |---|---|---|---|
//! | any line but a fee line, `fee > 0` | `processing_fees` | `gateway_receivable` | `fee` |
//! | any line but a fee line, `fee < 0` (given back) | `gateway_receivable` | `processing_fees` | `-fee` |
//! | fee line, `net < 0` | `processing_fees` | `gateway_receivable` | `-net` |
//! | fee line, `net > 0` | `gateway_receivable` | `processing_fees` | `net` |
//! | payout, `net + fee < 0` | `bank` | `gateway_receivable` | `-(net + fee)` |
//! | payout returned, `net + fee > 0` | `gateway_receivable` | `bank` | `net + fee` |
//! | adjustment, `net + fee > 0` | `gateway_receivable` | `settlement_adjustments` | `net + fee` |
//! | adjustment, `net + fee < 0` | `settlement_adjustments` | `gateway_receivable` | `-(net + fee)` |
//!
//! Charge, refund, dispute and dispute reversal lines post only their fee: their money was
//! posted with the capture, refund or dispute. A payout's or adjustment's own movement is
//! `net + fee` (its gross in the balance currency) so that, with its fee, the line moves
//! `gateway_receivable` by exactly its `net`. Zero amounts and duplicate lines post nothing.
//! Tie-out: once a payout pays out a set of captures, refunds and fees in full, their part
//! of `gateway_receivable` is zero.
//!
//! Authorizations, voids, failures, requested or failed refunds,
//! confirmations and learnt refund references move no money and post nothing. Refunds are a contra-revenue
//! account rather than a debit to `sales_revenue`, so gross sales and refunds
//! stay visible separately (net sales = `sales_revenue` - `refunds`). Each
//! transaction has one currency and balances in it; there is no conversion.
//!
//! Tie-out with a payment: `sales_revenue` = captured, `refunds` = refunded,
//! `disputes_held` = open disputes, `chargeback_losses` = lost disputes,
//! `gateway_receivable` = captured - refunded - disputed (before settlement reports; their
//! fees and payouts then draw it down).
//!
//! `gateway_receivable` can go negative: a chargeback reported by the gateway
//! is recorded even on money already refunded (the cardholder's bank takes it
//! regardless), and then the merchant owes the gateway. Refunds alone and
//! disputes alone never exceed captured; only their sum may. Every
//! transaction still balances.

mod accounts;
mod balances;
mod journal;

pub use accounts::{Account, AccountType};
pub use balances::AccountBalances;
pub use journal::{postings_for, postings_for_settlement_line, JournalKind, JournalTransaction, PostingLine, Side};
