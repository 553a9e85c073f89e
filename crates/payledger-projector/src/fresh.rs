//! What a rebuild's replay has written into its version, which started empty: a Bloom
//! filter of the streams, orders and orders-with-payments whose rows earlier batches wrote.
//!
//! "No" is exact (nothing was written, so a lookup of the stored row would find nothing and
//! can be skipped); "maybe" (a false positive, or a batch that rolled back) only costs the
//! lookup the live projector always makes. The size is fixed, so memory does not grow with
//! the history; a much longer history only raises the false-positive rate.

use std::hash::Hash;

use fastbloom::BloomFilter;
use payledger_store::StreamKey;
use uuid::Uuid;

use crate::apply::Applied;

/// 4 MiB: about 0.1 % false positives at 2 M marks (a 2.5 M-event history), 3 % at 8 M.
const FILTER_BITS: usize = 1 << 25;
const EXPECTED_MARKS: usize = 2_000_000;

/// What is marked. The tag keeps an order's row apart from its payments.
#[derive(Hash)]
enum Mark<'a> {
    Stream(&'a StreamKey),
    Order(Uuid, Uuid),
    OrderPayments(Uuid, Uuid),
}

pub(crate) struct Written {
    filter: BloomFilter,
}

impl Default for Written {
    fn default() -> Self {
        Written { filter: BloomFilter::with_num_bits(FILTER_BITS).expected_items(EXPECTED_MARKS) }
    }
}

impl Written {
    /// May an earlier batch have written this stream's rows?
    pub(crate) fn may_have_stream(&self, key: &StreamKey) -> bool {
        self.contains(&Mark::Stream(key))
    }

    /// May an earlier batch have written this order's row?
    pub(crate) fn may_have_order(&self, tenant_id: Uuid, order_id: Uuid) -> bool {
        self.contains(&Mark::Order(tenant_id, order_id))
    }

    /// May an earlier batch have written a payment of this order?
    pub(crate) fn may_have_order_payments(&self, tenant_id: Uuid, order_id: Uuid) -> bool {
        self.contains(&Mark::OrderPayments(tenant_id, order_id))
    }

    /// Marks everything a batch has written (or tried to: a refused stream stays marked,
    /// which is only a false positive).
    pub(crate) fn record(&mut self, applied: &Applied) {
        for (key, rows) in &applied.by_stream {
            self.filter.insert(&Mark::Stream(key));
            for order in &rows.orders {
                self.filter.insert(&Mark::Order(order.tenant_id, order.order_id));
            }
            for payment in &rows.payments {
                self.filter.insert(&Mark::OrderPayments(payment.tenant_id, payment.order_id));
            }
        }
    }

    fn contains(&self, mark: &(impl Hash + ?Sized)) -> bool {
        self.filter.contains(mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No false negative, few false positives, and the three kinds of mark kept apart.
    #[test]
    fn what_was_marked_is_always_found_and_little_else_is() {
        let mut written = Written::default();
        let tenant = Uuid::now_v7();
        let keys: Vec<StreamKey> = (0..50_000).map(|i| StreamKey::new(tenant, format!("payment-{i}"))).collect();
        let orders: Vec<Uuid> = (0..50_000).map(|_| Uuid::new_v4()).collect();
        for key in &keys {
            written.filter.insert(&Mark::Stream(key));
        }
        for order in &orders {
            written.filter.insert(&Mark::Order(tenant, *order));
        }
        assert!(keys.iter().all(|k| written.may_have_stream(k)));
        assert!(orders.iter().all(|o| written.may_have_order(tenant, *o)));

        let others = (0..50_000).filter(|i| written.may_have_stream(&StreamKey::new(tenant, format!("order-{i}"))));
        assert!(others.count() < 50, "false positives among streams never marked");
        let payments = orders.iter().filter(|o| written.may_have_order_payments(tenant, **o)).count();
        assert!(payments < 50, "an order's row is not its payments ({payments})");
        let other_tenant = Uuid::now_v7();
        assert!(
            keys.iter().filter(|k| written.may_have_stream(&StreamKey::new(other_tenant, k.stream_id.clone()))).count()
                < 50
        );
    }
}
