//! Outgoing HTTP requests from an activity, through `wasi:http`.
//!
//! The host sends a request only to hosts the component is granted
//! (`allowed-outbound-hosts`); any other is refused with
//! [`Error::Denied`]. Secrets granted to the component appear to the guest
//! as environment variables holding placeholders: put them in a header as
//! they are (`Authorization: Bearer <placeholder>`) and the host sends the
//! real value, to the secret's own hosts only. The host follows no
//! redirects: a 3xx is returned as it is.
//!
//! ```ignore
//! use activity_sdk::http::Request;
//!
//! let token = std::env::var("API_TOKEN").unwrap_or_default();
//! let response = Request::get("http://127.0.0.1:8089/users/7")
//!     .header("authorization", format!("Bearer {token}"))
//!     .send()?;
//! assert_eq!(response.status, 200);
//! let text = response.text()?;
//! ```

use std::fmt;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::{InputStream, StreamError};

/// A request to send.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// A response, its body read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The host refused it: the host is not granted, or the request carries
    /// a secret that may not go there (the worker's log says which).
    Denied,
    /// The call made as many requests as its component may
    /// (`max-outbound-requests`).
    LimitReached,
    /// The URL, a header or the method is not valid.
    Invalid(String),
    /// The request was sent and failed (connection, TLS, timeout, …), as
    /// `wasi:http` describes it.
    Failed(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied => f.write_str("the host refused the request (not granted)"),
            Self::LimitReached => {
                f.write_str("the call made as many requests as it may (max-outbound-requests)")
            }
            Self::Invalid(why) => write!(f, "invalid request: {why}"),
            Self::Failed(why) => write!(f, "request failed: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl Request {
    /// A `GET` of `url` (`http://host[:port]/path?query` or `https://…`).
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` of `body` to `url`.
    pub fn post(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            ..Self::new("POST", url)
        }
    }

    /// A request with any method.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let mut streaming = self.open()?;
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut streaming.body, &mut body)
            .map_err(|error| Error::Failed(error.to_string()))?;
        Ok(Response {
            status: streaming.status,
            headers: streaming.headers,
            body,
        })
    }

    /// Sends the request and returns the response as soon as its headers
    /// arrive, its body a reader (for bodies too large to hold: copy them to
    /// a file, hash them, …).
    pub fn open(self) -> Result<StreamingResponse, Error> {
        let (scheme, authority, path) = split_url(&self.url)?;
        let headers = Fields::from_list(&self.headers)
            .map_err(|error| Error::Invalid(format!("headers: {error:?}")))?;
        let request = OutgoingRequest::new(headers);
        let invalid = |what: &str| Error::Invalid(format!("{what} of {}", self.url));
        request
            .set_method(&method(&self.method))
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("host"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| invalid("path"))?;
        let body = request.body().map_err(|()| invalid("body"))?;
        let pending = outgoing_handler::handle(request, None).map_err(failed)?;
        // A refused request drops its body's reader: its own error says why.
        let written = write_body(body, &self.body);
        pending.subscribe().block();
        let response = pending
            .get()
            .expect("the response is ready after blocking on it")
            .map_err(|()| Error::Failed("the response was taken already".into()))?
            .map_err(failed)?;
        written?;
        let status = response.status();
        let headers = response.headers().entries();
        let body = response
            .consume()
            .map_err(|()| Error::Failed("the body was taken already".into()))?;
        let stream = body
            .stream()
            .map_err(|()| Error::Failed("no response body stream".into()))?;
        Ok(StreamingResponse {
            status,
            headers,
            body: BodyReader {
                stream: Some(stream),
                body: Some(body),
            },
        })
    }
}

/// A response whose body is still to be read.
pub struct StreamingResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: BodyReader,
}

/// A response body, read as it arrives.
pub struct BodyReader {
    // The stream is a child of the body: it must go first.
    stream: Option<InputStream>,
    body: Option<IncomingBody>,
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(stream) = &self.stream else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let wanted = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        match stream.blocking_read(wanted) {
            // An empty chunk is not the end (Ok(0) would say so): read again.
            Ok(chunk) if chunk.is_empty() => self.read(buf),
            Ok(chunk) => {
                buf[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            Err(StreamError::Closed) => {
                self.finish();
                Ok(0)
            }
            Err(StreamError::LastOperationFailed(error)) => {
                self.finish();
                // Its first line says what failed (a host may add a backtrace).
                let text = error.to_debug_string();
                let first = text.lines().next().unwrap_or("the response body failed");
                Err(std::io::Error::other(first.to_owned()))
            }
        }
    }
}

impl BodyReader {
    fn finish(&mut self) {
        drop(self.stream.take());
        if let Some(body) = self.body.take() {
            drop(IncomingBody::finish(body));
        }
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Response {
    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|_| Error::Failed("the response body is not UTF-8".into()))
    }

    /// The first value of header `name` (any case), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }
}

fn failed(code: ErrorCode) -> Error {
    match code {
        ErrorCode::HttpRequestDenied => Error::Denied,
        ErrorCode::ConnectionLimitReached => Error::LimitReached,
        other => Error::Failed(format!("{other:?}")),
    }
}

fn method(name: &str) -> Method {
    match name.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// `scheme://authority/path?query` in parts (the path defaults to `/`).
fn split_url(url: &str) -> Result<(Scheme, &str, &str), Error> {
    let invalid = || Error::Invalid(format!("URL {url}: expected http://host[:port]/path"));
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(invalid()),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('/') => (&rest[..at], &rest[at..]),
        Some(_) => return Err(invalid()),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(invalid());
    }
    Ok((scheme, authority, path))
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), Error> {
    let closed = |_| Error::Failed("the request body could not be written".into());
    {
        let stream = body
            .write()
            .map_err(|()| Error::Failed("no request body stream".into()))?;
        // wasi:io lets one blocking write carry at most 4096 bytes.
        for chunk in bytes.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(closed)?;
        }
    }
    OutgoingBody::finish(body, None).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_host_and_path() {
        let (scheme, host, path) = split_url("http://127.0.0.1:8089/users/7?x=1").unwrap();
        assert!(matches!(scheme, Scheme::Http));
        assert_eq!((host, path), ("127.0.0.1:8089", "/users/7?x=1"));
        assert_eq!(split_url("https://a.example").unwrap().2, "/");
        assert!(split_url("ftp://a").is_err());
        assert!(split_url("http:///x").is_err());
        assert!(split_url("http://a?x").is_err());
    }
}
