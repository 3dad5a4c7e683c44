//! The default [`HttpClient`]: reqwest over rustls (ring provider), with pooled connections.

use std::error::Error as _;
use std::path::Path;
use std::time::Duration;

use super::http::{BodyStream, HttpClient, HttpRequest, HttpResponse, Method};
use crate::error::{Error, Result};
use crate::future::BoxFuture;

/// Timeouts of [`ReqwestHttp`]. reqwest has none by default: a dead link would hang a call forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// Time to establish a connection (TCP and TLS).
    pub connect: Duration,
    /// Longest wait for the next bytes of a response: how a stalled large download fails.
    pub read: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        HttpTimeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(30),
        }
    }
}

/// Redirects followed at most, as browsers and reqwest do by default.
const MAX_REDIRECTS: usize = 10;

/// reqwest with rustls: one pool of keep-alive connections per kind of request.
///
/// Requests carrying credentials follow redirects within the same origin only, so the token never
/// reaches another host; public links (release assets) follow redirects anywhere.
#[derive(Debug, Clone)]
pub struct ReqwestHttp {
    with_credentials: reqwest::Client,
    public: reqwest::Client,
}

impl ReqwestHttp {
    /// Builds the two clients; installs rustls' ring provider as the process default unless the
    /// program installed one already.
    pub fn new(timeouts: HttpTimeouts) -> Result<ReqwestHttp> {
        ReqwestHttp::with_ca_file(timeouts, None)
    }

    /// [`ReqwestHttp::new`] trusting the CA certificates (PEM) of `ca_file` beside the system's roots.
    pub fn with_ca_file(timeouts: HttpTimeouts, ca_file: Option<&Path>) -> Result<ReqwestHttp> {
        let roots = match ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Http {
                    reason: format!("CA file {}: {}", path.display(), chain(&e)),
                    source: Some(e.into()),
                })?
            }
            None => Vec::new(),
        };
        // An error only means a provider is installed already; reqwest then uses that one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let same_origin = reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(reqwest::Url::origin);
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if first.is_some_and(|origin| origin == attempt.url().origin()) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        Ok(ReqwestHttp {
            with_credentials: build(timeouts, same_origin, &roots)?,
            public: build(
                timeouts,
                reqwest::redirect::Policy::limited(MAX_REDIRECTS),
                &roots,
            )?,
        })
    }
}

fn build(
    timeouts: HttpTimeouts,
    redirects: reqwest::redirect::Policy,
    roots: &[reqwest::Certificate],
) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .tls_certs_merge(roots.iter().cloned())
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .redirect(redirects)
        .build()
        .map_err(|e| Error::Http {
            reason: format!("cannot build the HTTP client: {}", chain(&e)),
            source: Some(e.into()),
        })
}

impl HttpClient for ReqwestHttp {
    /// Runs quiet: what reqwest and hyper log about the library's own calls is not bridged into the
    /// unit log (module `logging`, features `tracing` and `log`).
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        Box::pin(crate::quiet::quiet(async move {
            let client = if request.credentials {
                &self.with_credentials
            } else {
                &self.public
            };
            let method = match request.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Patch => reqwest::Method::PATCH,
            };
            let mut builder = client.request(method, &request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if let Some(timeout) = request.timeout {
                builder = builder.timeout(timeout);
            }
            let response = builder
                .body(request.body)
                .send()
                .await
                .map_err(transport_error)?;
            let headers = response
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            Ok(HttpResponse {
                status: response.status().as_u16(),
                headers,
                body: Box::new(ReqwestBody(response)),
            })
        }))
    }
}

struct ReqwestBody(reqwest::Response);

impl BodyStream for ReqwestBody {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        Box::pin(crate::quiet::quiet(async move {
            let chunk = self.0.chunk().await.map_err(transport_error)?;
            Ok(chunk.map(Vec::from))
        }))
    }
}

/// A request that got no answer: [`Error::Tls`] when the handshake refused the server's certificate
/// (retrying cannot help), else [`Error::Http`].
fn transport_error(error: reqwest::Error) -> Error {
    let reason = chain(&error);
    if refused_certificate(&error) {
        Error::Tls {
            reason,
            source: Some(error.into()),
        }
    } else {
        Error::Http {
            reason,
            source: Some(error.into()),
        }
    }
}

/// Whether a rustls certificate error is among the causes of `error`.
fn refused_certificate(error: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        // io::Error's `source()` skips the error it wraps: look at that one.
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(wrapped) => Some(wrapped),
            None => cause.source(),
        };
    }
    false
}

/// The error and its causes on one line ("error sending request: connection refused"), without the
/// URL: the caller names the request itself.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" ({url})"), "");
    }
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
