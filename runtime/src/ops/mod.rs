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

/// Hash maps of operator state. Group and join keys come from the data, so the hash is seeded
/// per process (a fixed seed would let crafted data collide); foldhash is several times faster
/// than the standard SipHash on the short keys groups and joins use.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

pub use aggregates::{
    Avg, Count, Distinct, DistinctInput, Max, MaxValue, Min, MinValue, Sum, SumValue,
};
pub use expiry::ExpiryIndex;
pub use group::GroupTable;
pub use join::{HashJoin, JoinChange, JoinKey, JoinKeyFn, JoinKind, Joined};
pub use operator::Operator;
pub use ttl::Watermark;
pub use union::UnionKey;
