//! One module per benchmark. `compile` builds the pipelines every other phase runs;
//! `snapshot` leaves a running pipeline to `reads` and its cache to `memory`; `cdc` leaves a
//! streaming pipeline to `freshness`.

pub mod cdc;
pub mod compile;
pub mod freshness;
pub mod memory;
pub mod reads;
pub mod snapshot;
