//! Every resource and event a keyed answer carries says whose data it is: `"livemode":
//! true` for the tenant's live data, `false` for its test data (DESIGN §12). The scope is
//! the credential's, so it is marked once, in the gate, on the answer's JSON.

use axum::body::{to_bytes, Body};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::Response;
use serde_json::Value;

/// Where resources nest inside a resource (a payment's refunds, a roll's old key).
const NESTED_RESOURCES: &[&str] = &["refunds", "disputes", "rolled", "secrets"];

/// The answer with `livemode` added to each resource it holds: the answer itself, the items
/// of a page, and their nested resources. Never inside what a client or gateway sent (an
/// event's payload, metadata): those are returned exactly as sent.
pub async fn mark(response: Response, live: bool) -> Response {
    if !response.status().is_success() || !is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // A JSON answer is already whole in memory (`Json` serializes it at once).
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        parts.headers.remove(CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    mark_answer(&mut value, live);
    let Ok(marked) = serde_json::to_vec(&value) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.insert(CONTENT_LENGTH, marked.len().into());
    Response::from_parts(parts, Body::from(marked))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn mark_answer(value: &mut Value, live: bool) {
    if is_resource(value) {
        mark_resource(value, live);
    } else if let Some(Value::Array(items)) = value.get_mut("data") {
        items.iter_mut().filter(|item| is_resource(item)).for_each(|item| mark_resource(item, live));
    }
}

/// A resource names its kind (`"object"`); an event of the feed has its id. A seal is the
/// server's, over every tenant's events: of no one scope.
fn is_resource(value: &Value) -> bool {
    match value.get("object") {
        Some(Value::String(kind)) => kind != "seal",
        Some(_) => false,
        None => value.get("event_id").is_some_and(Value::is_string),
    }
}

fn mark_resource(value: &mut Value, live: bool) {
    let Value::Object(map) = value else { return };
    map.insert("livemode".to_owned(), Value::Bool(live));
    for key in NESTED_RESOURCES {
        match map.get_mut(*key) {
            Some(Value::Array(items)) => {
                items.iter_mut().filter(|item| is_resource(item)).for_each(|item| mark_resource(item, live))
            }
            Some(nested) if is_resource(nested) => mark_resource(nested, live),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resources_pages_and_nested_resources_are_marked_never_what_a_client_sent() {
        let mut page = json!({"data": [
            {"object": "payment", "refunds": [{"object": "refund"}], "metadata": {"object": "x"}},
            {"event_id": "e", "payload": {"object": "event", "data": {"object": {"id": "pi"}}}},
        ], "has_more": false});
        mark_answer(&mut page, false);
        assert_eq!(
            page,
            json!({"data": [
                {"object": "payment", "livemode": false, "refunds": [{"object": "refund", "livemode": false}],
                 "metadata": {"object": "x"}},
                {"event_id": "e", "livemode": false, "payload": {"object": "event", "data": {"object": {"id": "pi"}}}},
            ], "has_more": false})
        );
        let mut rolled = json!({"object": "api_key", "rolled": {"object": "api_key"}});
        mark_answer(&mut rolled, true);
        assert_eq!(
            rolled,
            json!({"object": "api_key", "livemode": true, "rolled": {"object": "api_key", "livemode": true}})
        );
        let mut status = json!({"data": [{"name": "read_models"}]});
        mark_answer(&mut status, true);
        assert_eq!(status, json!({"data": [{"name": "read_models"}]}), "not a resource: unchanged");
    }
}
