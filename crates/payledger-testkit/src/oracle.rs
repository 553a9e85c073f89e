//! Oracles: what the event log means, folded with `payledger_core` alone (nothing of the
//! projector or the API), for tests to compare read-models and answers against.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use std::collections::BTreeMap;

use deadpool_postgres::Pool;
use payledger_core::ledger::{postings_for, postings_for_settlement_line, Account, AccountBalances};
use payledger_core::order::{self, OrderState, OrderStatus};
use payledger_core::payment::{self, Payment, PaymentEvent, PaymentState};
use payledger_core::settlement::SettlementEvent;
use payledger_core::{DomainEvent, SettlementReportId, StreamRef};
use serde_json::Value;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// One payment folded from its stream, with the balances and journal totals its events post.
#[derive(Debug)]
pub struct FoldedPayment {
    pub payment: Payment,
    pub balances: BTreeMap<&'static str, i128>,
    /// Total posted per journal kind (one capture of 2000 or two of 500 and 1500 post the same).
    pub journal_totals: BTreeMap<&'static str, i64>,
    pub event_types: Vec<String>,
}

/// The events of `payment_id`'s stream, decoded, in stream order.
pub async fn payment_events<C: GenericClient>(client: &C, tenant_id: Uuid, payment_id: &str) -> Vec<PaymentEvent> {
    client
        .query(
            "SELECT event_type, schema_version, payload FROM events WHERE tenant_id = $1 AND stream_id = $2
             ORDER BY stream_version",
            &[&tenant_id, &format!("payment-{payment_id}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| PaymentEvent::decode(row.get(0), row.get(1), &row.get::<_, Value>(2)).unwrap())
        .collect()
}

/// `payment_id` folded from its stream; panics if the stream is empty or a journal entry
/// does not balance.
pub async fn fold_payment<C: GenericClient>(client: &C, tenant_id: Uuid, payment_id: &str) -> FoldedPayment {
    let events = payment_events(client, tenant_id, payment_id).await;
    let payment = payment::fold(&events).expect("the payment exists");
    let mut balances = AccountBalances::new();
    let mut journal_totals = BTreeMap::new();
    for event in &events {
        if let Some(transaction) = postings_for(event) {
            assert!(transaction.is_balanced());
            balances.post(&transaction);
            *journal_totals.entry(transaction.kind.as_str()).or_insert(0) += transaction.lines[0].amount_minor.get();
        }
    }
    assert!(balances.trial_balance_is_zero());
    let balances = [
        Account::GatewayReceivable,
        Account::DisputesHeld,
        Account::SalesRevenue,
        Account::Refunds,
        Account::ChargebackLosses,
    ]
    .into_iter()
    .map(|account| (account.as_str(), balances.balance(account, payment.currency)))
    .collect();
    FoldedPayment {
        payment,
        balances,
        journal_totals,
        event_types: events.iter().map(|e| e.event_type().to_owned()).collect(),
    }
}

// ---------------------------------------------------------------------------------------
// The whole log folded: every order, payment and balance of every tenant.

#[derive(Debug, Default)]
pub struct Oracle {
    pub orders: BTreeMap<(Uuid, Uuid), (String, i64, i64)>,
    pub payments: BTreeMap<(Uuid, Uuid), Payment>,
    pub balances: BTreeMap<(Uuid, String, String), i64>,
    pub journal_lines: i64,
    pub events: i64,
}

/// The order status rule as documented on `OrderReadStatus`, restated here.
fn oracle_order_status(amount: i64, cancelled: bool, captured: i64, refunded: i64) -> &'static str {
    if captured > 0 && refunded >= captured {
        "refunded"
    } else if captured > 0 && captured >= amount {
        "paid"
    } else if cancelled {
        "cancelled"
    } else {
        "open"
    }
}

/// The whole log of `pool`'s database folded into what the read-models must hold.
pub async fn oracle(pool: &Pool) -> Oracle {
    let client = pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT tenant_id, stream_id, event_type, schema_version, payload FROM events
             ORDER BY tenant_id, stream_id, stream_version",
            &[],
        )
        .await
        .unwrap();
    let mut orders: BTreeMap<(Uuid, Uuid), OrderState> = BTreeMap::new();
    let mut payments: BTreeMap<(Uuid, Uuid), PaymentState> = BTreeMap::new();
    let mut balances: BTreeMap<Uuid, AccountBalances> = BTreeMap::new();
    let mut journal_lines = 0;
    for row in &rows {
        let tenant: Uuid = row.get(0);
        let stream: String = row.get(1);
        let decode = || DomainEvent::decode(row.get::<_, &str>(2), row.get(3), &row.get(4)).unwrap();
        if SettlementReportId::from_stream_id(&stream).is_ok() {
            // Report lines stand alone: each posts its own transaction.
            if let DomainEvent::Settlement(SettlementEvent::SettlementLineReported { line, duplicate_of, .. }) =
                decode()
            {
                if let Some(transaction) = postings_for_settlement_line(&line, duplicate_of.is_some()) {
                    journal_lines += transaction.lines.len() as i64;
                    balances.entry(tenant).or_default().post(&transaction);
                }
            }
            continue;
        }
        let event = match StreamRef::parse(&stream) {
            Ok(_) => decode(),
            Err(_) => continue,
        };
        match (StreamRef::parse(&stream).unwrap(), event) {
            (StreamRef::Order(id), DomainEvent::Order(e)) => {
                let slot = orders.entry((tenant, *id.as_uuid())).or_default();
                *slot = order::evolve(slot.take(), &e);
            }
            (StreamRef::Payment(id), DomainEvent::Payment(e)) => {
                if let Some(transaction) = postings_for(&e) {
                    journal_lines += transaction.lines.len() as i64;
                    balances.entry(tenant).or_default().post(&transaction);
                }
                let slot = payments.entry((tenant, *id.as_uuid())).or_default();
                *slot = payment::evolve(slot.take(), &e);
            }
            other => panic!("mismatched event {other:?}"),
        }
    }
    let payments: BTreeMap<(Uuid, Uuid), Payment> =
        payments.into_iter().filter_map(|(k, p)| p.map(|p| (k, p))).collect();
    let mut sums: BTreeMap<(Uuid, Uuid), (i64, i64)> = BTreeMap::new();
    for ((tenant, _), p) in &payments {
        let sum = sums.entry((*tenant, *p.order_id.as_uuid())).or_default();
        sum.0 += p.amount_captured.get();
        sum.1 += p.amount_refunded.get();
    }
    let orders = orders
        .into_iter()
        .filter_map(|(key, o)| {
            let o = o?;
            let (captured, refunded) = sums.get(&key).copied().unwrap_or((0, 0));
            let status =
                oracle_order_status(o.amount_minor.get(), o.status == OrderStatus::Cancelled, captured, refunded);
            Some((key, (status.to_owned(), captured, refunded)))
        })
        .collect();
    let mut balance_rows = BTreeMap::new();
    for (tenant, b) in &balances {
        assert!(b.trial_balance_is_zero(), "the core's own journal balances");
        for (account, currency, balance) in b.iter() {
            let balance = i64::try_from(balance).unwrap();
            balance_rows.insert((*tenant, account_name(account), currency.code().to_owned()), balance);
        }
    }
    Oracle { orders, payments, balances: balance_rows, journal_lines, events: rows.len() as i64 }
}

fn account_name(account: Account) -> String {
    account.as_str().to_owned()
}
