//! Conversions between `google.protobuf.Struct` and JSON values.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde_json::{Map, Number, Value as Json};

/// A number in a `Struct` that JSON cannot hold (NaN or infinite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFiniteNumber(pub f64);

impl std::fmt::Display for NonFiniteNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JSON numbers must be finite, got {}", self.0)
    }
}

impl std::error::Error for NonFiniteNumber {}

/// A `Struct` as a JSON object; fails on NaN or infinite numbers.
pub fn struct_to_json(s: &Struct) -> Result<Map<String, Json>, NonFiniteNumber> {
    s.fields.iter().map(|(k, v)| Ok((k.clone(), value_to_json(v)?))).collect()
}

/// A protobuf `Value` as JSON; fails on NaN or infinite numbers.
pub fn value_to_json(v: &Value) -> Result<Json, NonFiniteNumber> {
    Ok(match &v.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::NumberValue(n)) => Json::Number(Number::from_f64(*n).ok_or(NonFiniteNumber(*n))?),
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::ListValue(l)) => Json::Array(l.values.iter().map(value_to_json).collect::<Result<_, _>>()?),
        Some(Kind::StructValue(s)) => Json::Object(struct_to_json(s)?),
    })
}

/// A JSON object as a `Struct`.
pub fn json_to_struct(map: &Map<String, Json>) -> Struct {
    Struct { fields: map.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect() }
}

/// A JSON value as a protobuf `Value`.
pub fn json_to_value(v: &Json) -> Value {
    let kind = match v {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(a) => Kind::ListValue(ListValue { values: a.iter().map(json_to_value).collect() }),
        Json::Object(o) => Kind::StructValue(json_to_struct(o)),
    };
    Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let Json::Object(map) = serde_json::json!({"a": 1.5, "b": [true, null, "x"], "c": {"d": "e"}}) else { unreachable!() };
        assert_eq!(struct_to_json(&json_to_struct(&map)).expect("finite"), map);
    }

    #[test]
    fn nan_is_rejected() {
        let s = Struct { fields: [("x".to_string(), Value { kind: Some(Kind::NumberValue(f64::NAN)) })].into() };
        assert!(struct_to_json(&s).is_err());
    }
}
