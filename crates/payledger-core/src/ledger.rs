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
//!
//! Authorizations, voids, failures, requested or failed refunds,
//! confirmations and learnt refund references move no money and post nothing. Refunds are a contra-revenue
//! account rather than a debit to `sales_revenue`, so gross sales and refunds
//! stay visible separately (net sales = `sales_revenue` - `refunds`). Each
//! transaction has one currency and balances in it; there is no conversion.
//!
//! Tie-out with a payment: `sales_revenue` = captured, `refunds` = refunded,
//! `disputes_held` = open disputes, `chargeback_losses` = lost disputes,
//! `gateway_receivable` = captured - refunded - disputed.
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
pub use journal::{postings_for, JournalKind, JournalTransaction, PostingLine, Side};
