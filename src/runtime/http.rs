//! Calling REST endpoints for `service` cells, behind a trait so tests and
//! hosts can answer calls without the network.

use std::time::Duration;

/// A call a `service` cell makes, templates rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// The service cell's id, if it has one (mocks answer by it).
    pub cell: Option<String>,
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: Duration,
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// Why no response came back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("the call timed out")]
    Timeout,
    #[error("the call failed: {0}")]
    Failed(String),
}

/// Makes the HTTP calls of `service` cells.
pub trait HttpClient: Send + Sync {
    /// Makes one call.
    ///
    /// # Errors
    /// A timeout or a connection problem. A non-2xx status is a response.
    fn call(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;
}

/// The real client: blocking HTTP with each cell's timeout.
#[derive(Debug, Default)]
pub struct Network;

impl HttpClient for Network {
    fn call(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(request.timeout))
            .http_status_as_error(false)
            .build();
        let agent: ureq::Agent = config.into();
        let mut builder = ureq::http::Request::builder()
            .method(request.method)
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let body = request.body.clone().unwrap_or_default();
        let built = builder
            .body(body)
            .map_err(|e| HttpError::Failed(e.to_string()))?;
        match agent.run(built) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(4 * 1024 * 1024)
                    .read_to_string()
                    .map_err(|e| HttpError::Failed(e.to_string()))?;
                Ok(HttpResponse { status, body })
            }
            Err(ureq::Error::Timeout(_)) => Err(HttpError::Timeout),
            Err(e) => Err(HttpError::Failed(e.to_string())),
        }
    }
}

/// A client that answers every call from a function: for tests and hosts
/// that route calls themselves.
pub struct FnClient<F>(pub F);

impl<F> HttpClient for FnClient<F>
where
    F: Fn(&HttpRequest) -> Result<HttpResponse, HttpError> + Send + Sync,
{
    fn call(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        (self.0)(request)
    }
}
