//! The redb database of one pipeline: endpoint rows, operator state and source positions live
//! in one file, so that one write transaction commits all three atomically.
//!
//! Table names: `endpoint/<name>` (cache rows), `index/<name>/<columns>` (an endpoint's
//! secondary indexes), `state/<operator>` (operator state),
//! `source/<name>` (what each file source has delivered), `source_lsn` and `replication_slot`
//! (each Postgres connection's position and slot) and `meta` (the commit position).

mod change_buffer;
mod endpoint;
pub mod index_key;
mod state;
pub(crate) mod store;

pub use change_buffer::ChangeBuffer;
pub use endpoint::{values_len, EndpointSnapshot, EndpointTable, RawRange, SecondaryIndex};
pub use state::StateStore;
pub use store::{read_position, read_source_lsn, replication_slot, Store, StoreError};
