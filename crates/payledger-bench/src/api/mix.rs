//! The operations of the mixed load and their weights.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Largest weight of one operation.
pub const MAX_WEIGHT: u32 = 1_000;

/// One kind of request of the mixed load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `POST /v1/orders`.
    CreateOrder,
    /// `POST /v1/payments` on an order of this worker (manual capture, provider `generic`).
    CreatePayment,
    /// `POST /v1/payments/{id}/authorize`.
    Authorize,
    /// `POST /v1/payments/{id}/capture` (the whole authorization).
    Capture,
    /// `POST /v1/payments/{id}/refunds` of half the captured amount.
    Refund,
    /// A signed `generic` webhook confirming what the API did (`payment_intent.amount_capturable_updated`
    /// after an authorization, `payment_intent.succeeded` after a capture); some are redeliveries.
    Webhook,
}

impl Operation {
    pub const ALL: [Operation; 6] = [
        Operation::CreateOrder,
        Operation::CreatePayment,
        Operation::Authorize,
        Operation::Capture,
        Operation::Refund,
        Operation::Webhook,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Operation::CreateOrder => "create order",
            Operation::CreatePayment => "create payment",
            Operation::Authorize => "authorize",
            Operation::Capture => "capture",
            Operation::Refund => "refund",
            Operation::Webhook => "webhook (generic)",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Operation::CreateOrder => "order",
            Operation::CreatePayment => "payment",
            Operation::Authorize => "authorize",
            Operation::Capture => "capture",
            Operation::Refund => "refund",
            Operation::Webhook => "webhook",
        }
    }

    /// What runs instead when this worker has nothing for this operation to act on (no
    /// order without a payment, no authorized payment, ...): the step before it.
    pub fn fallback(self) -> Operation {
        match self {
            Operation::CreateOrder | Operation::CreatePayment | Operation::Webhook => Operation::CreateOrder,
            Operation::Authorize => Operation::CreatePayment,
            Operation::Capture => Operation::Authorize,
            Operation::Refund => Operation::Capture,
        }
    }
}

/// Relative weights of the operations; each worker picks its next operation at random by
/// these weights. Written `order=2,payment=2,authorize=2,capture=2,refund=1,webhook=3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mix {
    pub create_order: u32,
    pub create_payment: u32,
    pub authorize: u32,
    pub capture: u32,
    pub refund: u32,
    pub webhook: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix { create_order: 2, create_payment: 2, authorize: 2, capture: 2, refund: 1, webhook: 3 }
    }
}

impl Mix {
    pub fn weight(&self, op: Operation) -> u32 {
        match op {
            Operation::CreateOrder => self.create_order,
            Operation::CreatePayment => self.create_payment,
            Operation::Authorize => self.authorize,
            Operation::Capture => self.capture,
            Operation::Refund => self.refund,
            Operation::Webhook => self.webhook,
        }
    }

    fn weight_mut(&mut self, op: Operation) -> &mut u32 {
        match op {
            Operation::CreateOrder => &mut self.create_order,
            Operation::CreatePayment => &mut self.create_payment,
            Operation::Authorize => &mut self.authorize,
            Operation::Capture => &mut self.capture,
            Operation::Refund => &mut self.refund,
            Operation::Webhook => &mut self.webhook,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if let Some(op) = Operation::ALL.iter().find(|&&op| self.weight(op) > MAX_WEIGHT) {
            return Err(format!("mix: weight of {} exceeds {MAX_WEIGHT}", op.key()));
        }
        if Operation::ALL.iter().all(|&op| self.weight(op) == 0) {
            return Err("mix: at least one weight must be positive".into());
        }
        Ok(())
    }
}

impl FromStr for Mix {
    type Err = String;

    /// Named weights; operations not named get 0.
    fn from_str(text: &str) -> Result<Mix, String> {
        let mut mix = Mix { create_order: 0, create_payment: 0, authorize: 0, capture: 0, refund: 0, webhook: 0 };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| format!("mix: {part:?} is not name=weight"))?;
            let op = Operation::ALL.into_iter().find(|op| op.key() == name.trim()).ok_or_else(|| {
                format!("mix: unknown operation {name:?} (order, payment, authorize, capture, refund, webhook)")
            })?;
            *mix.weight_mut(op) = value.trim().parse().map_err(|e| format!("mix: {part:?}: {e}"))?;
        }
        mix.validate()?;
        Ok(mix)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = Operation::ALL.iter().map(|&op| format!("{}={}", op.key(), self.weight(op))).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_same_mix() {
        let mix: Mix = Mix::default().to_string().parse().unwrap();
        assert_eq!(mix, Mix::default());
        let only: Mix = "webhook=5, order=1".parse().unwrap();
        assert_eq!((only.webhook, only.create_order, only.refund), (5, 1, 0));
    }

    #[test]
    fn refuses_bad_mixes() {
        for bad in ["", "order=0", "order", "orders=1", "order=x", "order=1001"] {
            assert!(bad.parse::<Mix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_fallback_chain_ends_at_create_order() {
        for op in Operation::ALL {
            let mut at = op;
            for _ in 0..Operation::ALL.len() {
                at = at.fallback();
            }
            assert_eq!(at, Operation::CreateOrder);
        }
    }
}
