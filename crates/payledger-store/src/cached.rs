//! Statements prepared once per connection where the client keeps a cache (deadpool's), so
//! PostgreSQL parses and plans a hot statement once per connection instead of on every call.
//! Plain `tokio_postgres` clients run the same statements unprepared (one round trip too).

use std::future::Future;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, Row};

/// A parameter with its PostgreSQL type.
pub type TypedParam<'a> = (&'a (dyn ToSql + Sync), Type);

/// What the store's statements run on: a connection or a transaction, cached or not.
pub trait Queries: Sync {
    /// Runs `sql` with typed parameters: one round trip once the statement is prepared.
    fn query_cached(
        &self,
        sql: &str,
        params: &[TypedParam<'_>],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;

    /// Puts `sql` into the connection's cache (nothing without a cache). Done before pipelining
    /// statements, so that each is sent whole on its first poll and they run in send order.
    fn prepare_cached_typed(&self, sql: &str, types: &[Type]) -> impl Future<Output = Result<(), Error>> + Send;

    /// Runs SQL text with the simple protocol (no parameters).
    fn execute_simple(&self, sql: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

fn values<'a>(params: &'a [TypedParam<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|(value, _)| *value).collect()
}

fn types(params: &[TypedParam<'_>]) -> Vec<Type> {
    params.iter().map(|(_, ty)| ty.clone()).collect()
}

macro_rules! cached_impl {
    ($ty:ty) => {
        impl Queries for $ty {
            async fn query_cached(&self, sql: &str, params: &[TypedParam<'_>]) -> Result<Vec<Row>, Error> {
                let statement = self.prepare_typed_cached(sql, &types(params)).await?;
                self.query(&statement, &values(params)).await
            }
            async fn prepare_cached_typed(&self, sql: &str, types: &[Type]) -> Result<(), Error> {
                self.prepare_typed_cached(sql, types).await.map(drop)
            }
            async fn execute_simple(&self, sql: &str) -> Result<(), Error> {
                self.batch_execute(sql).await
            }
        }
    };
}

macro_rules! uncached_impl {
    ($ty:ty) => {
        impl Queries for $ty {
            async fn query_cached(&self, sql: &str, params: &[TypedParam<'_>]) -> Result<Vec<Row>, Error> {
                self.query_typed(sql, params).await
            }
            async fn prepare_cached_typed(&self, _: &str, _: &[Type]) -> Result<(), Error> {
                Ok(())
            }
            async fn execute_simple(&self, sql: &str) -> Result<(), Error> {
                self.batch_execute(sql).await
            }
        }
    };
}

cached_impl!(deadpool_postgres::Transaction<'_>);
cached_impl!(deadpool_postgres::ClientWrapper);
cached_impl!(deadpool_postgres::Client);
uncached_impl!(tokio_postgres::Transaction<'_>);
uncached_impl!(tokio_postgres::Client);

/// Prepares every statement a command runs in its transaction (claim, stream lock, read,
/// append, record): one pipelined round trip on a fresh connection, none once cached.
pub async fn prepare_command_statements<C: Queries>(client: &C) -> Result<(), crate::StoreError> {
    let statements = [
        (crate::idempotency::CLAIM_LOCK_SQL, &crate::idempotency::CLAIM_LOCK_TYPES[..]),
        (crate::idempotency::CLAIM_READ_SQL, &crate::idempotency::CLAIM_READ_TYPES[..]),
        (crate::idempotency::RECORD_SQL, &crate::idempotency::RECORD_TYPES[..]),
        (crate::append::LOCK_SQL, &crate::append::LOCK_TYPES[..]),
        (crate::append::APPEND_SQL, &crate::append::APPEND_TYPES[..]),
        (crate::read::read_stream_sql(), &crate::read::READ_STREAM_TYPES[..]),
    ];
    futures::future::try_join_all(statements.iter().map(|(sql, types)| client.prepare_cached_typed(sql, types)))
        .await?;
    Ok(())
}
