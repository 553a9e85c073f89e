-- The payments of an order, found in the log itself rather than in a read-model that may lag:
-- a new payment, and an order's cancellation, are checked against the order's other payments
-- while the order's stream is locked. Partial, so it holds one row per payment.
CREATE INDEX events_payments_by_order ON events (tenant_id, (payload->>'order_id'), global_position)
    WHERE event_type = 'PaymentInitiated';
