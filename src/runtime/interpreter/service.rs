//! Service cells: the call rendered (templates filled, environment
//! variables put in), made through the bot's HTTP client, and its outcome
//! stored. A call that cannot be made or fails takes the error path and
//! says why in a `service_failed` event.

use std::borrow::Cow;

use serde_json::Value;

use crate::compile::{Body, Branch, CellIndex, Service, ServicePiece, ServiceText};
use crate::runtime::http::{HttpError, HttpRequest};
use crate::runtime::message::{Event, MASK};

use super::scripts::storable;
use super::{Failure, Turn};

impl Turn<'_> {
    /// Calls the service of the cell at `index`; true when it answered
    /// with a 2xx status.
    pub(super) fn call(&mut self, index: CellIndex, service: &Service) -> Result<bool, Failure> {
        let outcome =
            self.request(index, service)
                .and_then(|request| match self.bot.http().call(&request) {
                    Ok(r) if (200..300).contains(&r.status) => Ok((r.status, r.body)),
                    Ok(r) => Err((r.status, format!("the service answered {}", r.status))),
                    Err(HttpError::Timeout) => Err((0, "the call timed out".to_owned())),
                    Err(HttpError::Failed(why)) => Err((0, format!("the call failed: {why}"))),
                });
        let status = match &outcome {
            Ok((status, _)) | Err((status, _)) => *status,
        };
        if let Some(var) = &service.status {
            self.session.vars.insert(var, Value::from(status));
        }
        let success = outcome.is_ok();
        match outcome {
            Ok((_, body)) => {
                if let Some(var) = &service.save {
                    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                    storable(var, &value)?;
                    self.session.vars.insert(var, value);
                }
            }
            Err((status, reason)) => {
                let reason = self.redact_reason(&reason).into_owned();
                let at = self.place(index, None);
                self.response.events.push(Event::ServiceFailed {
                    cell: self.program.cell(index).id.clone(),
                    status,
                    reason,
                    at: Some(at),
                });
            }
        }
        self.cover(
            index,
            Some(if success {
                Branch::Success
            } else {
                Branch::Error
            }),
        );
        Ok(success)
    }

    /// The call to make, or, when an environment variable it needs is not
    /// set, why none can be made.
    fn request(&self, index: CellIndex, service: &Service) -> Result<HttpRequest, (u16, String)> {
        let mut headers: Vec<(String, String)> = Vec::with_capacity(service.headers.len() + 1);
        for (name, value) in &service.headers {
            headers.push((name.clone(), self.service_text(value)?));
        }
        // A JSON body says so, unless the author set the type.
        if matches!(service.body, Some(Body::Json(_)))
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        Ok(HttpRequest {
            cell: self.program.cell(index).id.clone(),
            method: service.method.as_str(),
            url: self.service_text(&service.url)?,
            headers,
            body: service.body.as_ref().map(|b| match b {
                Body::Template(t) => self.render(t),
                Body::Json(j) => self.render_json(j).to_string(),
            }),
            timeout: std::time::Duration::from_millis(service.timeout_ms),
        })
    }

    /// A URL or header value, with its templates filled and its
    /// environment variables read (as the bot was made with them).
    fn service_text(&self, text: &ServiceText) -> Result<String, (u16, String)> {
        let mut out = String::new();
        for piece in &text.pieces {
            match piece {
                ServicePiece::Template(template) => self.render_into(template, &mut out),
                ServicePiece::Env(at) => match self.bot.env_value(*at) {
                    Some(value) => out.push_str(value),
                    None => {
                        let name = self
                            .program
                            .env
                            .get(*at as usize)
                            .map_or("", String::as_str);
                        return Err((0, format!("the environment variable `{name}` is not set")));
                    }
                },
            }
        }
        Ok(out)
    }

    /// A failure's reason without the environment's values (a transport
    /// error may quote the URL) or the session's secrets.
    fn redact_reason<'r>(&self, reason: &'r str) -> Cow<'r, str> {
        let mut out = Cow::Borrowed(reason);
        for value in self.bot.env_values() {
            if !value.is_empty() && out.contains(value) {
                out = Cow::Owned(out.replace(value, MASK));
            }
        }
        match self.bot.secrets(self.session).redact(&out) {
            Cow::Owned(clean) => Cow::Owned(clean),
            Cow::Borrowed(_) => out,
        }
    }
}
