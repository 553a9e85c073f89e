//! Request extractors that answer bad input in the API's error format: wrong content type
//! (415), body too large (413), malformed JSON, unknown or repeated fields, NUL characters
//! (400). Each kind of input (body, query, path, header) is checked here, once.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{ApiCode, ApiError};
use crate::state::AppState;
use crate::strict_json::{self, BodyError};

/// A JSON request body, parsed strictly, with a fingerprint of its content for idempotency.
pub struct JsonBody<T> {
    pub value: T,
    /// SHA-256 of the body's canonical JSON (key order and whitespace do not matter).
    pub fingerprint: [u8; 32],
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit_bytes = state.config.body_limit_bytes;
        let has_body = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v != "0");
        if has_body && !is_json(request.headers().get(CONTENT_TYPE)) {
            return Err(ApiError::of(ApiCode::UnsupportedMediaType, "request bodies must be application/json"));
        }
        let bytes = axum::body::to_bytes(request.into_body(), limit_bytes).await.map_err(|_| {
            ApiError::of(ApiCode::BodyTooLarge, format!("request bodies are limited to {limit_bytes} bytes"))
        })?;
        parse_json(&bytes)
    }
}

fn is_json(content_type: Option<&axum::http::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let mime = value.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("application/json")
}

/// Parses a body; an empty body is read as `{}` so that `POST .../void` needs none.
pub fn parse_json<T: DeserializeOwned>(bytes: &Bytes) -> Result<JsonBody<T>, ApiError> {
    let raw: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    let value = strict_json::parse(raw).map_err(|e| match e {
        BodyError::Malformed(e) => ApiError::of(ApiCode::MalformedJson, format!("the body is not valid JSON: {e}")),
        BodyError::DuplicateField { param } => ApiError::invalid_param(
            &param,
            ApiCode::DuplicateField,
            format!("{param} is given more than once; send each field once"),
        ),
        BodyError::NulCharacter { param } => ApiError::invalid_param(
            &param,
            ApiCode::InvalidCharacters,
            format!("{param} contains a NUL character (\\u0000), which is not accepted"),
        ),
    })?;
    if !value.is_object() {
        return Err(ApiError::of(ApiCode::MalformedJson, "the body must be a JSON object"));
    }
    let mut canonical = String::new();
    payledger_store::hash::write_canonical_json(&mut canonical, &value);
    let fingerprint = Sha256::digest(canonical.as_bytes()).into();
    let parsed = serde_json::from_value::<T>(value).map_err(classify_field_error)?;
    Ok(JsonBody { value: parsed, fingerprint })
}

/// serde's messages name the field; turn them into a code and a `param`.
fn classify_field_error(err: serde_json::Error) -> ApiError {
    let message = err.to_string();
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    if message.starts_with("unknown field") {
        let mut e = ApiError::of(ApiCode::UnknownField, message.clone());
        e.param = quoted(&message);
        e
    } else if message.starts_with("missing field") {
        let mut e = ApiError::of(ApiCode::MissingField, message.clone());
        e.param = quoted(&message);
        e
    } else {
        ApiError::of(ApiCode::InvalidField, message)
    }
}

/// The optional `Idempotency-Key` header.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else { return Ok(IdempotencyKey(None)) };
        let key = value
            .to_str()
            .ok()
            .filter(|k| {
                !k.is_empty()
                    && k.len() <= payledger_store::idempotency::KEY_MAX_CHARS
                    && k.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                ApiError::invalid_param(
                    "Idempotency-Key",
                    ApiCode::IdempotencyKeyInvalid,
                    "Idempotency-Key must be 1 to 255 printable ASCII characters",
                )
            })?;
        Ok(IdempotencyKey(Some(key.to_owned())))
    }
}

/// A path id that must be a UUID; anything else is a 404 (it cannot name a resource).
pub struct PathId(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("resource"))?;
        raw.parse().map(PathId).map_err(|_| ApiError::not_found("resource"))
    }
}

/// Query parameters, parsed strictly by [`crate::query::parse`], with errors in the API's
/// format instead of axum's plain-text rejection.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        crate::query::parse(parts.uri.query()).map(QueryParams)
    }
}

/// A path parameter as text: percent-decoded, valid UTF-8 and free of NUL (400 otherwise).
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state).await.map_err(|rejection| {
            ApiError::of(
                ApiCode::InvalidCharacters,
                format!("the path is not valid UTF-8 text: {}", rejection.body_text()),
            )
        })?;
        let (name, value) = params.iter().next().ok_or_else(|| ApiError::internal("route without a path parameter"))?;
        if value.contains('\0') {
            return Err(ApiError::invalid_param(
                name,
                ApiCode::InvalidCharacters,
                format!("{name} contains a NUL character, which is not accepted"),
            ));
        }
        Ok(PathText(value.to_owned()))
    }
}

/// Longest URI served; longer ones are refused with 414 in the error shape. (Beyond 65534
/// bytes hyper itself answers 414, with no body, before any of this code runs.)
pub const URI_MAX_BYTES: usize = 8 * 1024;
/// Largest header section served (names and values); larger is 431 in the error shape.
pub const HEADERS_MAX_BYTES: usize = 32 * 1024;

/// Refuses an over-long URI or header section before any handler sees the request.
pub async fn head_limits(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri_bytes = request.uri().to_string().len();
    if uri_bytes > URI_MAX_BYTES {
        return ApiError::of(
            ApiCode::UriTooLong,
            format!("the URI is {uri_bytes} bytes; at most {URI_MAX_BYTES} are accepted"),
        )
        .into_response();
    }
    let header_bytes: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if header_bytes > HEADERS_MAX_BYTES {
        return ApiError::of(
            ApiCode::HeadersTooLarge,
            format!("the headers hold {header_bytes} bytes; at most {HEADERS_MAX_BYTES} are accepted"),
        )
        .into_response();
    }
    next.run(request).await
}
