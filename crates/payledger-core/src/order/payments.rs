use crate::error::DomainError;
use crate::money::MinorUnits;
use crate::payment::Payment;

/// Most payments one order may have: each is folded, under the order's lock, on every new
/// payment and on a cancel, so the bound keeps that work bounded.
pub const ORDER_PAYMENTS_MAX: usize = 100;

/// What an order's payments (each folded from its own stream) mean for the order: the part of
/// its amount they hold and how many are still in progress. The command handler loads the
/// payments under the order's lock and passes this to `decide`, which stays pure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderPayments {
    pub count: usize,
    pub amount_committed: MinorUnits,
    pub in_progress: usize,
    /// Sums over all the payments, as the order read-model shows them.
    pub amount_captured: MinorUnits,
    pub amount_refunded: MinorUnits,
}

impl OrderPayments {
    /// Refuses one more payment on an order that has [`ORDER_PAYMENTS_MAX`] already.
    pub fn ensure_room_for_payment(&self) -> Result<(), DomainError> {
        if self.count >= ORDER_PAYMENTS_MAX {
            return Err(DomainError::OrderPaymentLimitReached { max: ORDER_PAYMENTS_MAX });
        }
        Ok(())
    }

    pub fn tally<'a>(payments: impl IntoIterator<Item = &'a Payment>) -> OrderPayments {
        payments.into_iter().fold(OrderPayments::default(), |sum, payment| OrderPayments {
            count: sum.count + 1,
            amount_committed: sum.amount_committed.saturating_add(payment.amount_committed_to_order()),
            in_progress: sum.in_progress + usize::from(payment.is_in_progress_for_order()),
            amount_captured: sum.amount_captured.saturating_add(payment.amount_captured),
            amount_refunded: sum.amount_refunded.saturating_add(payment.amount_refunded),
        })
    }
}
