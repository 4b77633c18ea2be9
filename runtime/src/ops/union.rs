//! `UNION ALL`: the rows of every branch, each keyed by its branch and its key there.

use crate::types::{FieldDef, TableKey, TypeError, Value};
use serde::{Deserialize, Serialize};

/// The key of a row of a UNION ALL: the first branch's key, or the key of a row of the rest of
/// the branches (a union of more than two nests: `UnionKey<K0, UnionKey<K1, K2>>`), so rows of
/// different branches never share a key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UnionKey<A, B> {
    First(A),
    Rest(B),
}

/// A union's rows are keyed by where they came from, which is not a column: they are found by
/// filters, not by id.
impl<A: TableKey, B: TableKey> TableKey for UnionKey<A, B> {
    fn parse_id(_id: &str, _key_fields: &[FieldDef]) -> Result<Self, TypeError> {
        Err(TypeError::new(
            "rows of a UNION ALL have no id of their own: find them with a filter on their columns",
        ))
    }
    fn values(&self) -> Vec<Value> {
        match self {
            UnionKey::First(k) => k.values(),
            UnionKey::Rest(k) => k.values(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RecordId;

    #[test]
    fn branches_never_share_a_key_and_encode_distinctly() {
        type K = UnionKey<RecordId, UnionKey<RecordId, (Option<i64>,)>>;
        let keys: Vec<K> = vec![
            UnionKey::First(RecordId(1)),
            UnionKey::Rest(UnionKey::First(RecordId(1))),
            UnionKey::Rest(UnionKey::Rest((Some(1),))),
        ];
        let encoded: std::collections::HashSet<Vec<u8>> = keys
            .iter()
            .map(|k| postcard::to_allocvec(k).unwrap())
            .collect();
        assert_eq!(encoded.len(), 3);
        for k in &keys {
            let bytes = postcard::to_allocvec(k).unwrap();
            assert_eq!(&postcard::from_bytes::<K>(&bytes).unwrap(), k);
        }
        assert!(K::parse_id("1", &[]).is_err());
    }
}
