//! Values as protobuf messages: the typed fields of generated record messages ([`ToProto`]) and
//! the dynamically typed `dozer.types.Value` of the common service.

use super::types;
use crate::types::{Date, Decimal, FieldType, Float, Json, Timestamp, Value};
use chrono::Datelike;

/// A column value as its protobuf field. Generated record conversions call this per column, so
/// the mapping of SQL types to protobuf lives here once.
pub trait ToProto {
    type Proto;
    fn to_proto(&self) -> Self::Proto;
}

macro_rules! identity {
    ($($t:ty),*) => {$(
        impl ToProto for $t {
            type Proto = $t;
            fn to_proto(&self) -> $t {
                self.clone()
            }
        }
    )*};
}
identity!(i64, u64, bool, String, Vec<u8>);

impl ToProto for Float {
    type Proto = f64;
    fn to_proto(&self) -> f64 {
        self.0
    }
}

impl ToProto for Decimal {
    type Proto = types::Decimal;
    /// The text form keeps every digit and the scale (`12.3400`).
    fn to_proto(&self) -> types::Decimal {
        types::Decimal {
            value: self.to_string(),
        }
    }
}

impl ToProto for Timestamp {
    type Proto = prost_types::Timestamp;
    fn to_proto(&self) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: self.timestamp(),
            // chrono carries a leap second as nanos >= 1e9, which protobuf does not allow.
            nanos: self.timestamp_subsec_nanos().min(999_999_999) as i32,
        }
    }
}

impl ToProto for Date {
    type Proto = types::Date;
    fn to_proto(&self) -> types::Date {
        types::Date {
            year: self.year(),
            month: self.month(),
            day: self.day(),
        }
    }
}

impl ToProto for Json {
    type Proto = prost_types::Value;
    fn to_proto(&self) -> prost_types::Value {
        use prost_types::value::Kind;
        let kind = match self {
            Json::Null => Kind::NullValue(prost_types::NullValue::NullValue as i32),
            Json::Bool(b) => Kind::BoolValue(*b),
            // google.protobuf.Value holds numbers as doubles.
            Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Kind::StringValue(s.clone()),
            Json::Array(items) => Kind::ListValue(prost_types::ListValue {
                values: items.iter().map(ToProto::to_proto).collect(),
            }),
            Json::Object(map) => Kind::StructValue(prost_types::Struct {
                fields: map.iter().map(|(k, v)| (k.clone(), v.to_proto())).collect(),
            }),
        };
        prost_types::Value { kind: Some(kind) }
    }
}

/// A dynamically typed value of the common service; NULL leaves the `oneof` unset.
pub fn value(value: &Value) -> types::Value {
    use types::value::Value as V;
    let value = match value {
        Value::Null => None,
        Value::Int(v) => Some(V::IntValue(*v)),
        Value::UInt(v) => Some(V::UintValue(*v)),
        Value::Float(v) => Some(V::FloatValue(v.0)),
        Value::Decimal(v) => Some(V::DecimalValue(v.to_proto())),
        Value::Boolean(v) => Some(V::BoolValue(*v)),
        Value::String(v) => Some(V::StringValue(v.clone())),
        Value::Date(v) => Some(V::DateValue(v.to_proto())),
        Value::Timestamp(v) => Some(V::TimestampValue(v.to_proto())),
        Value::Json(v) => Some(V::JsonValue(v.to_proto())),
        Value::Binary(v) => Some(V::BytesValue(v.clone())),
    };
    types::Value { value }
}

/// A row of any record type as a `dozer.types.Record`.
pub fn record(row: &impl crate::types::Record) -> types::Record {
    let width = row_width(row);
    types::Record {
        values: (0..width).map(|i| value(&row.field(i))).collect(),
    }
}

fn row_width<T: crate::types::Record>(_: &T) -> usize {
    T::FIELDS.len()
}

pub fn field_type(ty: FieldType) -> types::FieldType {
    use types::FieldType as P;
    match ty {
        FieldType::Int => P::Int,
        FieldType::UInt => P::Uint,
        FieldType::Float => P::Float,
        FieldType::Decimal => P::Decimal,
        FieldType::Boolean => P::Boolean,
        FieldType::String => P::String,
        FieldType::Text => P::Text,
        FieldType::Date => P::Date,
        FieldType::Timestamp => P::Timestamp,
        FieldType::Json => P::Json,
        FieldType::Binary => P::Binary,
    }
}

/// The column definitions of an endpoint.
pub fn fields(fields: &[crate::types::FieldDef]) -> Vec<types::FieldDefinition> {
    fields
        .iter()
        .map(|f| types::FieldDefinition {
            typ: field_type(f.ty) as i32,
            name: f.name.to_string(),
            nullable: f.nullable,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn values_keep_every_digit_and_instant() {
        let d = Decimal::from_str("-12.3400").unwrap();
        assert_eq!(d.to_proto().value, "-12.3400");
        let t: Timestamp = "2024-03-01T10:20:30.123456789Z".parse().unwrap();
        let p = t.to_proto();
        assert_eq!((p.seconds, p.nanos), (1_709_288_430, 123_456_789));
        let date = Date::from_ymd_opt(2024, 2, 29).unwrap().to_proto();
        assert_eq!((date.year, date.month, date.day), (2024, 2, 29));
        assert_eq!(value(&Value::Null).value, None);
        assert_eq!(
            value(&Value::Int(-3)).value,
            Some(types::value::Value::IntValue(-3))
        );
        let json: Json = serde_json::json!({"a": [1, "x", null, true]});
        let prost_types::value::Kind::StructValue(s) = json.to_proto().kind.unwrap() else {
            panic!("an object is a Struct")
        };
        let prost_types::value::Kind::ListValue(list) = s.fields["a"].kind.clone().unwrap() else {
            panic!("an array is a ListValue")
        };
        assert_eq!(list.values.len(), 4);
    }
}
