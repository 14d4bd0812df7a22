//! [`LockStore`]: the rows behind [`crate::lock::Locks`].

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::lock::LockRecord;

/// The storage side of locks: reads and compare-and-set writes of rows. The rules live in
/// [`crate::lock::Locks`]; a store only has to make each write atomic.
#[async_trait]
pub trait LockStore: Send + Sync {
    async fn lock_record(&self, key: &str) -> Result<Option<LockRecord>>;
    /// Inserts a new row; `false` if a row with the key exists already.
    async fn insert_lock(&self, record: &LockRecord) -> Result<bool>;
    /// Writes `record` (whose version is `expected_version + 1`) only if the stored row still
    /// has `expected_version`; `false` if it changed meanwhile.
    async fn swap_lock(&self, expected_version: i64, record: &LockRecord) -> Result<bool>;
}

#[async_trait]
impl<T: Delegate> LockStore for T {
    async fn lock_record(&self, key: &str) -> Result<Option<LockRecord>> {
        self.lock_store().lock_record(key).await
    }
    async fn insert_lock(&self, record: &LockRecord) -> Result<bool> {
        self.lock_store().insert_lock(record).await
    }
    async fn swap_lock(&self, expected_version: i64, record: &LockRecord) -> Result<bool> {
        self.lock_store().swap_lock(expected_version, record).await
    }
}
