//! JSON request bodies read strictly: a key given twice in one object is refused (which of
//! the two would count is not for the server to guess), and so is a NUL character in any
//! string or key (PostgreSQL cannot store it). Each refusal names its place in the body
//! (`amount`, `metadata.note`, `lines[2].sku`).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a body was refused.
#[derive(Debug)]
pub enum BodyError {
    /// Not JSON at all.
    Malformed(serde_json::Error),
    /// The same key twice in one object.
    DuplicateField { param: String },
    /// A NUL character in a string or key.
    NulCharacter { param: String },
}

/// Parses one JSON document, refusing duplicate keys and NUL characters.
pub fn parse(bytes: &[u8]) -> Result<Value, BodyError> {
    let refusal = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Node { path: String::new(), refusal: &refusal }.deserialize(&mut deserializer);
    let parsed = parsed.and_then(|value| deserializer.end().map(|()| value));
    match (parsed, refusal.into_inner()) {
        (_, Some(refused)) => Err(refused),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(BodyError::Malformed(e)),
    }
}

/// One value of the document, at `path`.
struct Node<'a> {
    path: String,
    refusal: &'a RefCell<Option<BodyError>>,
}

impl Node<'_> {
    fn refuse<E: de::Error>(&self, error: BodyError) -> E {
        *self.refusal.borrow_mut() = Some(error);
        E::custom("refused")
    }

    fn child(&self, path: String) -> Node<'_> {
        Node { path, refusal: self.refusal }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity: the conversion cannot fail on parsed input.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        if v.contains('\0') {
            return Err(self.refuse(BodyError::NulCharacter { param: self.path.clone() }));
        }
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.contains('\0') {
                let param = self.key_path(&key.replace('\0', "\\u0000"));
                return Err(self.refuse(BodyError::NulCharacter { param }));
            }
            let path = self.key_path(&key);
            if object.contains_key(&key) {
                return Err(self.refuse(BodyError::DuplicateField { param: path }));
            }
            let value = map.next_value_seed(self.child(path))?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> BodyError {
        parse(body.as_bytes()).expect_err(body)
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth_even_when_spelled_differently() {
        for (body, param) in [
            (r#"{"amount":100,"amount":250000}"#, "amount"),
            (r#"{"metadata":{"a":1,"b":{"c":1,"c":2}}}"#, "metadata.b.c"),
            (r#"{"a":1,"\u0061":2}"#, "a"),
            (r#"{"l":[{"x":1},{"x":1,"x":1}]}"#, "l[1].x"),
        ] {
            match refused(body) {
                BodyError::DuplicateField { param: p } => assert_eq!(p, param, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn nul_is_refused_in_strings_and_keys() {
        for (body, param) in [
            (r#"{"reference":"a\u0000b"}"#, "reference"),
            (r#"{"metadata":{"k\u0000":1}}"#, r"metadata.k\u0000"),
            (r#"{"metadata":{"list":["ok","\u0000"]}}"#, "metadata.list[1]"),
        ] {
            match refused(body) {
                BodyError::NulCharacter { param: p } => assert_eq!(p, param, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn ordinary_documents_parse_as_serde_json_parses_them() {
        let body = r#"{"a":[1,-2,3.5,"x",null,true],"b":{"c":{}},"d":18446744073709551615}"#;
        assert_eq!(parse(body.as_bytes()).unwrap(), serde_json::from_str::<Value>(body).unwrap());
        assert!(matches!(refused(r#"{"a":1"#), BodyError::Malformed(_)));
        assert!(matches!(refused(r#"{"a":1} x"#), BodyError::Malformed(_)));
    }
}
