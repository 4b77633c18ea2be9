//! The operator interface every generated statement implements.

use crate::cache::StoreError;
use crate::expr::EvalError;
use crate::types::Delta;
use redb::WriteTransaction;

/// One incremental SQL step: consumes a batch of input changes, emits the net output changes.
pub trait Operator {
    type InKey;
    type In;
    type OutKey;
    type Out;

    /// Processes one batch (one source transaction), appending at most one change per output key.
    fn on_batch(
        &mut self,
        input: &[Delta<Self::InKey, Self::In>],
        out: &mut Vec<Delta<Self::OutKey, Self::Out>>,
    ) -> Result<(), EvalError>;

    /// Called once when a transaction of the operator's source ends, after its last batch: a
    /// TTL'd operator advances its watermark here and emits the purges it causes.
    fn end_transaction(
        &mut self,
        _out: &mut Vec<Delta<Self::OutKey, Self::Out>>,
    ) -> Result<(), EvalError> {
        Ok(())
    }

    /// Writes state changed since the last checkpoint into the commit's transaction.
    fn checkpoint(&mut self, _txn: &WriteTransaction) -> Result<(), StoreError> {
        Ok(())
    }

    /// Reloads state written by [`checkpoint`](Self::checkpoint).
    fn restore(&mut self, _txn: &WriteTransaction) -> Result<(), StoreError> {
        Ok(())
    }
}
