//! Query strings read strictly into a struct: an unknown, repeated or NUL-carrying parameter
//! is refused, and every error names its parameter and says in plain words what it must be
//! (the type's own description, e.g. "a UUID string").

use std::fmt;

use serde::de::value::{StrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use crate::error::{ApiCode, ApiError};

/// Longest part of a refused value echoed back in the message.
const SHOWN_VALUE_MAX_CHARS: usize = 40;

/// Parses `query` (without the `?`) into `T`, a struct of optional fields.
pub fn parse<T: DeserializeOwned>(query: Option<&str>) -> Result<T, ApiError> {
    // Never fall back to "no parameters": that would drop every filter of the request.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or("")).map_err(|e| {
        ApiError::invalid_param("query", ApiCode::InvalidRequest, format!("the query string cannot be read: {e}"))
    })?;
    for (i, (key, value)) in pairs.iter().enumerate() {
        if key.contains('\0') || value.contains('\0') {
            let param = key.replace('\0', "\\u0000");
            return Err(ApiError::invalid_param(
                &param,
                ApiCode::InvalidCharacters,
                format!("{param} contains a NUL character, which is not accepted"),
            ));
        }
        if pairs[..i].iter().any(|(k, _)| k == key) {
            return Err(ApiError::invalid_param(
                key,
                ApiCode::DuplicateParameter,
                format!("{key} is given more than once"),
            ));
        }
    }
    T::deserialize(Pairs(pairs)).map_err(QueryError::into_api)
}

#[derive(Debug)]
pub struct QueryError {
    code: ApiCode,
    param: Option<String>,
    message: String,
}

impl QueryError {
    fn into_api(self) -> ApiError {
        let mut err = ApiError::of(self.code, self.message);
        err.param = self.param;
        err
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

impl de::Error for QueryError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        QueryError { code: ApiCode::InvalidParameter, param: None, message: message.to_string() }
    }

    fn missing_field(field: &'static str) -> Self {
        QueryError {
            code: ApiCode::MissingParameter,
            param: Some(field.into()),
            message: format!("{field} is required"),
        }
    }
}

/// The whole query: a map from parameter to value.
struct Pairs(Vec<(String, String)>);

impl<'de> de::Deserializer<'de> for Pairs {
    type Error = QueryError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        visitor.visit_map(PairAccess { pairs: self.0.into_iter(), value: None })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, QueryError> {
        if let Some((key, _)) = self.0.iter().find(|(key, _)| !fields.contains(&key.as_str())) {
            return Err(QueryError {
                code: ApiCode::UnknownParameter,
                param: Some(key.clone()),
                message: format!("{key} is not a parameter of this route; it takes {}", fields.join(", ")),
            });
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct PairAccess {
    pairs: std::vec::IntoIter<(String, String)>,
    value: Option<(String, String)>,
}

impl<'de> MapAccess<'de> for PairAccess {
    type Error = QueryError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, QueryError> {
        let Some((key, value)) = self.pairs.next() else { return Ok(None) };
        let deserializer: StringDeserializer<QueryError> = key.clone().into_deserializer();
        self.value = Some((key, value));
        seed.deserialize(deserializer).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, QueryError> {
        let (param, value) = self.value.take().ok_or_else(|| de::Error::custom("a value without its parameter"))?;
        seed.deserialize(Param { param, value })
    }
}

/// One parameter's value; a value that does not parse is refused naming the parameter.
struct Param {
    param: String,
    value: String,
}

impl Param {
    fn refuse(&self, expected: impl fmt::Display) -> QueryError {
        let mut shown: String = self.value.chars().take(SHOWN_VALUE_MAX_CHARS).collect();
        if shown.len() < self.value.len() {
            shown.push('…');
        }
        QueryError {
            code: ApiCode::InvalidParameter,
            param: Some(self.param.clone()),
            message: format!("{} must be {expected}, not {shown:?}", self.param),
        }
    }

    /// Hands the text to the visitor; its own error (a date, a UUID) becomes a plain one.
    fn text<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        let expected = Expected(&visitor).to_string();
        match visitor.visit_str::<QueryError>(&self.value) {
            Ok(value) => Ok(value),
            Err(_) => Err(self.refuse(expected)),
        }
    }
}

/// A visitor's description of what it expects ("a UUID string").
struct Expected<'a, V>(&'a V);

impl<'de, V: Visitor<'de>> fmt::Display for Expected<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
}

macro_rules! integer {
    ($($method:ident => $visit:ident: $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
            match self.value.parse::<$t>() {
                Ok(n) => visitor.$visit(n),
                Err(_) => Err(self.refuse(format_args!("a whole number from {} to {}", <$t>::MIN, <$t>::MAX))),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Param {
    type Error = QueryError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        self.text(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        visitor.visit_some(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, QueryError> {
        match self.value.as_str() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(self.refuse("true or false")),
        }
    }

    integer!(deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16, deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64, deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64);

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, QueryError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, QueryError> {
        let deserializer: StrDeserializer<QueryError> = self.value.as_str().into_deserializer();
        visitor.visit_enum(deserializer).map_err(|_| self.refuse(format_args!("one of {}", variants.join(", "))))
    }

    serde::forward_to_deserialize_any! {
        i128 u128 f32 f64 char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<i64>,
        starting_after: Option<uuid::Uuid>,
        created_gte: Option<chrono::DateTime<chrono::Utc>>,
        status: Option<String>,
    }

    fn refused(query: &str) -> ApiError {
        parse::<Q>(Some(query)).expect_err(query)
    }

    #[test]
    fn each_refusal_names_its_parameter_in_plain_words() {
        for (query, code, param, words) in [
            ("limit=abc", "invalid_parameter", "limit", "limit must be a whole number"),
            ("limit=99999999999999999999", "invalid_parameter", "limit", "limit must be a whole number"),
            (
                "starting_after=nope",
                "invalid_parameter",
                "starting_after",
                "starting_after must be a formatted UUID string",
            ),
            ("created_gte=yesterday", "invalid_parameter", "created_gte", "created_gte must be an RFC 3339"),
            ("colour=red", "unknown_parameter", "colour", "colour is not a parameter of this route"),
            ("limit=1&limit=2", "duplicate_parameter", "limit", "limit is given more than once"),
            ("status=%00", "invalid_characters", "status", "status contains a NUL"),
        ] {
            let err = refused(query);
            assert_eq!(err.code, code, "{query}: {err:?}");
            assert_eq!(err.param.as_deref(), Some(param), "{query}: {err:?}");
            assert!(err.message.starts_with(words), "{query}: {}", err.message);
        }
    }

    #[test]
    fn good_queries_parse() {
        let q: Q = parse(Some("limit=5&status=open&created_gte=2024-01-01T00:00:00Z")).unwrap();
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.status.as_deref(), Some("open"));
        assert!(q.created_gte.is_some() && q.starting_after.is_none());
        let empty: Q = parse(None).unwrap();
        assert!(empty.limit.is_none());
    }
}
