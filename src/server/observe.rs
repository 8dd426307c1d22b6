//! What an operator sees of requests: a request id on every request and
//! its answer, one log line per request, and the CORS policy for browser
//! clients.
//!
//! Log lines carry ids, routes, statuses and timings, never a request's
//! body, its text or context, a key, or a variable's value: those can hold
//! what users typed, masked values included.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

/// The header a request id travels in, both ways.
pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: the caller's `x-request-id` when it is a short token
/// (so a load balancer's id follows the request through), a new one
/// otherwise.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) Arc<str>);

fn request_id(request: &Request) -> RequestId {
    let given = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        });
    RequestId(match given {
        Some(id) => id.into(),
        None => uuid::Uuid::new_v4().simple().to_string().into(),
    })
}

/// Gives the request an id, logs it once answered, and returns the id in
/// the answer's `x-request-id`.
pub(crate) async fn trace(mut request: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let started = Instant::now();
    let id = request_id(&request);
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(no route)".to_owned(), |p| p.as_str().to_owned());
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("request", request_id = %id.0);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    // Successful requests are the bulk: a line each costs more than the
    // turn itself at tens of thousands a second, so they are `debug`;
    // refusals are `info` and failures `warn`.
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(%method, route, status, micros, "request failed");
        } else if status >= 400 {
            tracing::info!(%method, route, status, micros, "request refused");
        } else {
            tracing::debug!(%method, route, status, micros, "request");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// The CORS layer for the configured origins; none when no origin is
/// configured (browsers then refuse cross-origin calls, as they should).
pub(crate) fn cors(config: &super::Cors) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if config.origins.is_empty() {
        return None;
    }
    let origins = if config.origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            config
                .origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    let mut layer = CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID.clone(),
            HeaderName::from_static("api-key"),
            HeaderName::from_static("locale"),
            HeaderName::from_static("user-ref"),
            HeaderName::from_static("os"),
            HeaderName::from_static("channel"),
        ])
        .expose_headers([REQUEST_ID.clone()]);
    if let Some(age) = config.max_age {
        layer = layer.max_age(age);
    }
    Some(layer)
}
