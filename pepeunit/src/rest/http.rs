//! The raw HTTP seam: a small object-safe trait, so a unit can bring its own HTTP stack.
//!
//! Everything Pepeunit-specific (URLs, the `x-auth-token` header, response shapes, error bodies,
//! retries) lives above this trait, in the library, once; an implementation only moves bytes.

use std::fmt;
use std::time::Duration;

use crate::error::Result;
use crate::future::BoxFuture;

/// The HTTP methods the Pepeunit API needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads; idempotent, so the library retries them.
    Get,
    /// Writes (`set_state_storage`, `send_command`); never retried.
    Post,
    /// `set_state_input`; never retried.
    Patch,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// One HTTP request, as the library builds it.
pub struct HttpRequest {
    /// GET, POST or PATCH.
    pub method: Method,
    /// The full URL; it never carries a secret.
    pub url: String,
    /// Header name/value pairs; may carry the unit token, so they are never logged or shown.
    pub headers: Vec<(String, String)>,
    /// The request body (empty for GET).
    pub body: Vec<u8>,
    /// Total time for the whole exchange, body included: set for small calls. `None` for large
    /// downloads, which then only fail when no byte arrives for the implementation's read timeout.
    pub timeout: Option<Duration>,
    /// The headers carry a credential: a redirect to another origin must not be followed (it would
    /// hand the token to that origin). `false` for public links such as a release asset.
    pub credentials: bool,
}

impl fmt::Debug for HttpRequest {
    /// Shows header names only: their values may be the unit token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// The body of a response, read chunk by chunk so a download never sits whole in memory.
pub trait BodyStream: Send {
    /// The next chunk, `None` at the end; an error when the connection breaks or stalls.
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Vec<u8>>>>;
}

/// A response whose status and headers have arrived; the body follows through [`BodyStream`].
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Header name/value pairs, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, not read yet.
    pub body: Box<dyn BodyStream>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Length`, when the server sent a valid one.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Sends HTTP requests: the only thing the library asks of an HTTP stack.
///
/// `send` resolves once the status and headers are in; a transport failure (connect, TLS, timeout) is
/// an [`crate::Error::Http`], which the library treats as retryable for GETs. Any status, 4xx and 5xx
/// included, is a successful `send`: the library decodes it.
pub trait HttpClient: Send + Sync {
    /// Sends `request`; see the trait docs for what counts as an error.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>>;
}
