use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Side;

/// The chart of accounts (see the [module docs](super) for the postings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// Asset: money the gateway owes us (captured, not refunded or held back).
    GatewayReceivable,
    /// Revenue: captured sales.
    SalesRevenue,
    /// Contra-revenue: sales given back by refunds.
    Refunds,
    /// Asset: funds the gateway holds back while a dispute is open.
    DisputesHeld,
    /// Expense: disputes lost to the cardholder.
    ChargebackLosses,
    /// Expense: fees the gateway kept (a fee given back credits it).
    ProcessingFees,
    /// Asset: money the gateway paid out to the merchant's bank.
    Bank,
    /// Expense: the gateway's corrections of its balance; a correction in the merchant's
    /// favour credits it (a negative expense, i.e. a gain).
    SettlementAdjustments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Asset,
    Revenue,
    ContraRevenue,
    Expense,
}

impl Account {
    pub const ALL: [Account; 8] = [
        Account::GatewayReceivable,
        Account::SalesRevenue,
        Account::Refunds,
        Account::DisputesHeld,
        Account::ChargebackLosses,
        Account::ProcessingFees,
        Account::Bank,
        Account::SettlementAdjustments,
    ];

    /// Stable name, used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Account::GatewayReceivable => "gateway_receivable",
            Account::SalesRevenue => "sales_revenue",
            Account::Refunds => "refunds",
            Account::DisputesHeld => "disputes_held",
            Account::ChargebackLosses => "chargeback_losses",
            Account::ProcessingFees => "processing_fees",
            Account::Bank => "bank",
            Account::SettlementAdjustments => "settlement_adjustments",
        }
    }

    pub fn account_type(self) -> AccountType {
        match self {
            Account::GatewayReceivable | Account::DisputesHeld | Account::Bank => AccountType::Asset,
            Account::SalesRevenue => AccountType::Revenue,
            Account::Refunds => AccountType::ContraRevenue,
            Account::ChargebackLosses | Account::ProcessingFees | Account::SettlementAdjustments => {
                AccountType::Expense
            }
        }
    }

    /// The side that increases this account; its balance is shown positive on it.
    pub fn normal_side(self) -> Side {
        match self.account_type() {
            AccountType::Asset | AccountType::ContraRevenue | AccountType::Expense => Side::Debit,
            AccountType::Revenue => Side::Credit,
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown account {0:?}")]
pub struct UnknownAccount(pub String);

impl FromStr for Account {
    type Err = UnknownAccount;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Account::ALL.into_iter().find(|account| account.as_str() == s).ok_or_else(|| UnknownAccount(s.to_owned()))
    }
}
