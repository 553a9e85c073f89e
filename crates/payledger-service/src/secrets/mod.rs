//! Webhook signing secrets sealed at rest (docs/SECRETS.md).
//!
//! Each secret is stored as AES-256-GCM ciphertext under the master key, with the id of
//! that key beside it; the database never holds a signing secret in clear. The master key
//! itself is never stored: the server, the CLI and `secrets rotate-master` are given it.
//!
//! - [`master_key`]: the key, its text form and its id;
//! - [`sealing`]: sealing and opening one secret;
//! - [`at_rest`]: the startup check and the rotation over the whole table.

pub mod at_rest;
pub mod master_key;
pub mod sealing;

pub use at_rest::{check_at_startup, lock_secrets, rotate_master, sealed_under_other_key, SecretsAtRest, SecretsError};
pub use master_key::{MasterKey, MasterKeyError, MASTER_KEY_HEX_CHARS};
pub use sealing::{open_secret, seal_secret, SealError, SecretRow};
