//! `POST /v1/oauth/token`: the client credentials grant (RFC 6749 §4.4). The body is
//! `application/x-www-form-urlencoded`; the client authenticates by HTTP Basic or by the
//! `client_id` / `client_secret` fields (one of the two, §2.3.1). Refusals have RFC 6749
//! §5.2's shape, `{"error", "error_description"}`, not the API's error object.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use payledger_service::oauth::{issue_token, OAuthError};
use serde_json::json;

use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest token request body: a grant type, a scope and two credentials.
const TOKEN_BODY_MAX_BYTES: usize = 4 * 1024;
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// A refusal in RFC 6749 §5.2's terms.
#[derive(Debug)]
pub struct TokenRefusal {
    error: &'static str,
    description: String,
}

impl TokenRefusal {
    fn new(error: &'static str, description: impl Into<String>) -> TokenRefusal {
        TokenRefusal { error, description: description.into() }
    }
}

impl IntoResponse for TokenRefusal {
    fn into_response(self) -> Response {
        let status = match self.error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (status, Json(body)).into_response();
        no_store(response.headers_mut());
        if status == StatusCode::UNAUTHORIZED {
            let challenge = HeaderValue::from_static("Basic realm=\"payledger\", charset=\"UTF-8\"");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// RFC 6749 §5.1: token answers are never cached.
fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

pub async fn token(State(state): State<AppState>, request: Request) -> Response {
    match issue(&state, request).await {
        Ok(response) => response,
        Err(Refused::Oauth(refusal)) => refusal.into_response(),
        Err(Refused::Api(error)) => error.into_response(),
    }
}

enum Refused {
    Oauth(TokenRefusal),
    Api(ApiError),
}

impl From<TokenRefusal> for Refused {
    fn from(refusal: TokenRefusal) -> Self {
        Refused::Oauth(refusal)
    }
}

async fn issue(state: &AppState, request: Request) -> Result<Response, Refused> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let (parts, body) = request.into_parts();
    let form = read_form(&parts.headers, body).await?;
    match form.get("grant_type") {
        None => return Err(TokenRefusal::new("invalid_request", "grant_type is missing").into()),
        Some("client_credentials") => {}
        Some(other) => {
            let message = format!("grant_type {other:?} is not supported; use client_credentials");
            return Err(TokenRefusal::new("unsupported_grant_type", message).into());
        }
    }
    let (client_id, client_secret) = credentials(&parts.headers, &form)?;
    let ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
    let ttl_s = state.config.oauth_token_ttl_s;
    let issued =
        issue_token(&state.pool, &client_id, &client_secret, form.get("scope"), ttl_s, ip).await.map_err(refusal_of)?;
    let body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in_s,
        "scope": issued.scope.as_str(),
    });
    let mut response = (StatusCode::OK, Json(body)).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

fn refusal_of(error: OAuthError) -> Refused {
    let description = error.to_string();
    match error {
        OAuthError::InvalidClient => TokenRefusal::new("invalid_client", description).into(),
        OAuthError::InvalidScope { .. } => TokenRefusal::new("invalid_scope", description).into(),
        OAuthError::UnauthorizedClient(_) => TokenRefusal::new("unauthorized_client", description).into(),
        OAuthError::TooManyTokens { .. } => TokenRefusal::new("invalid_request", description).into(),
        OAuthError::Service(e) => Refused::Api(ApiError::from(e)),
    }
}

/// The request's parameters, each at most once (§3.2: "MUST NOT be included more than
/// once"); parameters it does not know are ignored, as §3.2 requires.
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

async fn read_form(headers: &HeaderMap, body: axum::body::Body) -> Result<Form, TokenRefusal> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case(FORM_CONTENT_TYPE) {
        return Err(TokenRefusal::new("invalid_request", format!("the body must be {FORM_CONTENT_TYPE}")));
    }
    let bytes = axum::body::to_bytes(body, TOKEN_BODY_MAX_BYTES).await.map_err(|_| {
        TokenRefusal::new("invalid_request", format!("the body is at most {TOKEN_BODY_MAX_BYTES} bytes"))
    })?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| TokenRefusal::new("invalid_request", "the body is not a valid form"))?;
    for (n, (name, _)) in pairs.iter().enumerate() {
        if pairs[..n].iter().any(|(earlier, _)| earlier == name) {
            return Err(TokenRefusal::new("invalid_request", format!("{name} is given more than once")));
        }
    }
    Ok(Form(pairs))
}

/// The client's id and secret, from HTTP Basic or from the form, never both.
fn credentials(headers: &HeaderMap, form: &Form) -> Result<(String, String), TokenRefusal> {
    let in_form = (form.get("client_id"), form.get("client_secret"));
    let basic = headers.get(header::AUTHORIZATION);
    match (basic, in_form) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            Err(TokenRefusal::new("invalid_request", "authenticate by HTTP Basic or by the form fields, not both"))
        }
        (Some(value), _) => basic_credentials(value),
        (None, (Some(id), Some(secret))) => Ok((id.to_owned(), secret.to_owned())),
        (None, _) => Err(TokenRefusal::new(
            "invalid_client",
            "no client authentication: send HTTP Basic, or client_id and client_secret",
        )),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (§2.3.1).
fn basic_credentials(value: &HeaderValue) -> Result<(String, String), TokenRefusal> {
    let malformed = || TokenRefusal::new("invalid_client", "malformed HTTP Basic credentials");
    let text = value.to_str().map_err(|_| malformed())?;
    let encoded = text.strip_prefix("Basic ").ok_or_else(malformed)?.trim();
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok((form_decode(id).ok_or_else(malformed)?, form_decode(secret).ok_or_else(malformed)?))
}

fn form_decode(part: &str) -> Option<String> {
    if part.contains(['&', '=']) {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(text: &str) -> HeaderValue {
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn basic_credentials_are_decoded_and_form_decoded() {
        let (id, secret) = basic_credentials(&basic("plc_abc:plcs_x%2By+z")).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("plc_abc", "plcs_x+y z"));
        let (_, secret) = basic_credentials(&basic("plc_abc:with:colon")).unwrap();
        assert_eq!(secret, "with:colon", "only the first colon separates");
        for bad in ["no-colon", "a&b:c", "a:b=c"] {
            assert_eq!(basic_credentials(&basic(bad)).unwrap_err().error, "invalid_client", "{bad}");
        }
        assert!(basic_credentials(&HeaderValue::from_static("Bearer x")).is_err());
        assert!(basic_credentials(&HeaderValue::from_static("Basic !!!")).is_err());
    }
}
