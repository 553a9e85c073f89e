//! The generated history is the test kit's fixed-shape lifecycle (decided by
//! `payledger_core`, appended like the API's), so the benchmark and the tests share one
//! generator; here its refusal becomes a set-up error instead of a panic.

use payledger_store::BatchItem;
use uuid::Uuid;

use crate::error::BenchError;

/// The events of lifecycle `n`: an order and its payment, as two batch items (new streams).
pub(crate) fn lifecycle(tenant_id: Uuid, n: u64, key_id: &str) -> Result<[BatchItem; 2], BenchError> {
    payledger_testkit::workload::lifecycle(tenant_id, n, key_id)
        .map_err(|e| BenchError::Setup(format!("generated history: {e}")))
}
