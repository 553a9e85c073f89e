//! Route handlers: thin — parse, authorize, call the pipeline or a query, shape the answer.

pub mod admin;
pub mod disputes;
pub mod events;
pub mod health;
pub mod jobs;
pub mod oauth;
pub mod orders;
pub mod payments;
pub mod projections;
pub mod queries;
pub mod reconciliation;
pub mod refunds;
pub mod seals;
pub mod settlements;
pub mod webhook_endpoints;
pub mod webhooks;
