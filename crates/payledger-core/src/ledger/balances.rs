use std::collections::BTreeMap;

use super::{Account, JournalTransaction, Side};
use crate::money::Currency;

/// Running balances per (account, currency), signed debit-positive in i128
/// so that no sum of i64 postings can overflow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountBalances {
    debit_positive: BTreeMap<(Account, Currency), i128>,
}

impl AccountBalances {
    pub fn new() -> AccountBalances {
        AccountBalances::default()
    }

    pub fn post(&mut self, transaction: &JournalTransaction) {
        for line in &transaction.lines {
            let amount = i128::from(line.amount_minor.get());
            let signed = match line.side {
                Side::Debit => amount,
                Side::Credit => -amount,
            };
            *self.debit_positive.entry((line.account, line.currency)).or_insert(0) += signed;
        }
    }

    /// Debits minus credits.
    pub fn debit_balance(&self, account: Account, currency: Currency) -> i128 {
        self.debit_positive.get(&(account, currency)).copied().unwrap_or(0)
    }

    /// The balance on the account's normal side (revenue shown positive).
    pub fn balance(&self, account: Account, currency: Currency) -> i128 {
        let debit_balance = self.debit_balance(account, currency);
        match account.normal_side() {
            Side::Debit => debit_balance,
            Side::Credit => -debit_balance,
        }
    }

    /// Every (account, currency) with postings, and its normal-side balance.
    pub fn iter(&self) -> impl Iterator<Item = (Account, Currency, i128)> + '_ {
        self.debit_positive.keys().map(|&(account, currency)| (account, currency, self.balance(account, currency)))
    }

    /// Total debits equal total credits in every currency (the trial balance).
    pub fn trial_balance_is_zero(&self) -> bool {
        let mut per_currency: BTreeMap<Currency, i128> = BTreeMap::new();
        for (&(_, currency), &amount) in &self.debit_positive {
            *per_currency.entry(currency).or_insert(0) += amount;
        }
        per_currency.values().all(|net| *net == 0)
    }
}
