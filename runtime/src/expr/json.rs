//! JSON access as Postgres' `jsonb` operators: `j -> key` (a JSON value) and `j ->> key` (its
//! text); a key is an object field name or an array position (from 0; negative counts from the
//! end).

use crate::types::Json;

/// What selects inside a JSON value: a field name or an array position.
pub trait JsonKey {
    fn select(self, json: &Json) -> Option<&Json>;
}

impl JsonKey for String {
    fn select(self, json: &Json) -> Option<&Json> {
        json.as_object()?.get(&self)
    }
}

impl JsonKey for i64 {
    fn select(self, json: &Json) -> Option<&Json> {
        let array = json.as_array()?;
        let index = if self < 0 {
            array
                .len()
                .checked_sub(usize::try_from(self.unsigned_abs()).ok()?)?
        } else {
            usize::try_from(self).ok()?
        };
        array.get(index)
    }
}

/// `j -> key`: NULL when the key is absent or either side is NULL.
pub fn json_get<K: JsonKey>(json: Option<Json>, key: Option<K>) -> Option<Json> {
    key?.select(json.as_ref()?).cloned()
}

/// `j ->> key`: a string unquoted, JSON `null` as SQL NULL, anything else as JSON text.
pub fn json_get_text<K: JsonKey>(json: Option<Json>, key: Option<K>) -> Option<String> {
    match key?.select(json.as_ref()?)? {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(jsonb_text(other)),
    }
}

/// A JSON value as `jsonb` prints it: `{"a": 1, "b": [1, 2]}`, a space after each `:` and `,`.
pub fn jsonb_text(json: &Json) -> String {
    let mut out = String::new();
    write_jsonb(json, &mut out);
    out
}

fn write_jsonb(json: &Json, out: &mut String) {
    match json {
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_jsonb(item, out);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            out.push('{');
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Json::String(name.clone()).to_string());
                out.push_str(": ");
                write_jsonb(value, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_follows_jsonb() {
        let j: Json = serde_json::from_str(r#"{"a": {"b": [1, "x", null]}, "n": 2.5}"#).unwrap();
        let a = json_get(Some(j.clone()), Some("a".to_string()));
        let b = json_get(a, Some("b".to_string()));
        assert_eq!(json_get_text(b.clone(), Some(1)), Some("x".to_string()));
        assert_eq!(
            json_get_text(b.clone(), Some(-1)),
            None,
            "JSON null is SQL NULL"
        );
        assert_eq!(json_get_text(b.clone(), Some(-4)), None);
        assert_eq!(json_get_text(b, Some(0)), Some("1".to_string()));
        assert_eq!(
            json_get_text(Some(j.clone()), Some("n".to_string())),
            Some("2.5".to_string())
        );
        assert_eq!(
            json_get_text(Some(j.clone()), Some("a".to_string())),
            Some(r#"{"b": [1, "x", null]}"#.to_string())
        );
        assert_eq!(json_get::<String>(Some(j), None), None);
    }
}
