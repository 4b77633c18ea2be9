//! Incremental operator building blocks. Generated operators combine these with the
//! pipeline's own typed expressions.
//!
//! Every operator consumes a batch of [`Delta`](crate::types::Delta)s and emits the **net**
//! change per output key once per batch.

mod aggregates;
mod expiry;
mod group;
mod join;
mod operator;
pub mod ttl;
mod union;
pub mod windows;

pub use aggregates::{
    Avg, Count, Distinct, DistinctInput, Max, MaxValue, Min, MinValue, Sum, SumValue,
};
pub use expiry::ExpiryIndex;
pub use group::GroupTable;
pub use join::{HashJoin, JoinChange, JoinKey, JoinKeyFn, JoinKind, Joined};
pub use operator::Operator;
pub use ttl::Watermark;
pub use union::UnionKey;
