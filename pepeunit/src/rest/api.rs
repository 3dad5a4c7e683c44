//! The Pepeunit REST API (PROTOCOL §7) over any [`HttpClient`]: URLs from the *current* settings
//! snapshot per call, the `x-auth-token` header, response shapes, `{"detail": …}` decoding, retries,
//! and streamed downloads.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::http::{HttpClient, HttpRequest, HttpResponse, Method};
use super::reqwest_http::{HttpTimeouts, ReqwestHttp};
use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::files;
use crate::future::BoxFuture;
use crate::logger::Logger;
use crate::settings::Settings;

/// Which update archive `download_update` asks for (PROTOCOL §7, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveRequest {
    /// `firmware/tgz`: the tar through `zlib.compressobj(level, wbits)`; wbits 9…15 zlib, −15…−9 raw
    /// deflate, 25…31 gzip; level −1…9. The backend refuses other values with a 422.
    Tgz {
        /// The zlib window bits (and container) the backend compresses with.
        wbits: i32,
        /// The compression level.
        level: i32,
    },
    /// `firmware/tar`: an uncompressed tar.
    Tar,
    /// `firmware/zip`.
    Zip,
}

impl Default for ArchiveRequest {
    /// `tgz` with wbits 9 and level 9, what the Python client asks for: the smallest archive.
    fn default() -> Self {
        ArchiveRequest::Tgz { wbits: 9, level: 9 }
    }
}

/// How the REST client behaves; the defaults suit a device on a flaky link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestOptions {
    /// Connect and read timeouts of the default HTTP client (a custom client brings its own).
    pub timeouts: HttpTimeouts,
    /// A PEM file of CA certificates the default HTTP client trusts beside the system's roots (e.g. a
    /// private instance's CA); default none.
    pub ca_file: Option<std::path::PathBuf>,
    /// Total time for one small call (everything but archive and firmware downloads).
    pub call_timeout: Duration,
    /// Extra attempts of a GET after a transport error or a 5xx; 4xx answers are never retried.
    pub retries: u32,
    /// Waits between attempts; default 0.5 s doubling to 8 s.
    pub backoff: Backoff,
    /// The archive format `download_update` asks for.
    pub archive: ArchiveRequest,
    /// Largest archive or firmware download accepted, in bytes.
    pub max_download_bytes: u64,
    /// Largest DataPipe CSV export accepted, in bytes: the zip as downloaded and the CSV unpacked.
    pub max_csv_bytes: u64,
    /// Skip an update command whose version equals env.json's `PU_COMMIT_VERSION`.
    pub check_version: bool,
}

impl Default for RestOptions {
    fn default() -> Self {
        RestOptions {
            timeouts: HttpTimeouts::default(),
            ca_file: None,
            call_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Backoff {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(8),
            },
            archive: ArchiveRequest::default(),
            max_download_bytes: 512 * 1024 * 1024,
            max_csv_bytes: 64 * 1024 * 1024,
            check_version: true,
        }
    }
}

/// Largest small-call body accepted: a stored state of 1,000,000 characters, each escaped as
/// `\uXXXX` in the worst case, plus the quotes.
const MAX_SMALL_BODY: usize = 6 * 1_000_000 + 2;
/// Largest error body read to find its `detail`.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The REST half of a client: settings (read per call), the HTTP client, options and the logger.
pub(crate) struct RestApi {
    pub(super) settings: Settings,
    http: Arc<dyn HttpClient>,
    pub(crate) options: RestOptions,
    logger: Logger,
}

/// One API request, before it is sent.
pub(crate) struct Call {
    method: Method,
    /// Full URL, no query secrets (there are none).
    url: String,
    /// The unit token; empty for the unauthenticated calls (instance info, public links).
    token: String,
    /// The JSON body of a write, empty for reads.
    pub(super) body: Vec<u8>,
}

impl Call {
    /// What errors call it: method and URL without the query.
    pub(crate) fn name(&self) -> String {
        let path = self.url.split('?').next().unwrap_or_default();
        format!("{} {path}", self.method.as_str())
    }

    /// A GET of `url` without the token.
    fn public(url: &str) -> Call {
        Call {
            method: Method::Get,
            url: url.to_owned(),
            token: String::new(),
            body: Vec::new(),
        }
    }
}

impl RestApi {
    /// A REST client over `http`, or over [`ReqwestHttp`] when `http` is `None`.
    pub(crate) fn new(
        settings: Settings,
        logger: Logger,
        http: Option<Arc<dyn HttpClient>>,
        options: RestOptions,
    ) -> Result<RestApi> {
        let http = match http {
            Some(http) => http,
            None => Arc::new(ReqwestHttp::with_ca_file(
                options.timeouts,
                options.ca_file.as_deref(),
            )?),
        };
        Ok(RestApi {
            settings,
            http,
            options,
            logger,
        })
    }

    /// A call to `{base}{route}` where `route` may contain `{uuid}`, built from the env in force now.
    pub(crate) fn call(&self, method: Method, route: &str, query: &[(&str, &str)]) -> Result<Call> {
        let env = self.settings.current();
        let uuid = encode(&env.unit_uuid()?);
        let mut url = format!("{}{}", env.base_url(), route.replace("{uuid}", &uuid));
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{}={}", encode(key), encode(value)));
        }
        Ok(Call {
            method,
            url,
            token: env.auth_token.clone(),
            body: Vec::new(),
        })
    }

    /// The unauthenticated GET of the instance root `{http_type}://{domain}{app_prefix}`.
    pub(crate) fn instance_call(&self) -> Call {
        let env = self.settings.current();
        Call::public(&format!(
            "{}://{}{}",
            env.http_type, env.domain, env.app_prefix
        ))
    }

    /// Sends `call` once: a transport error is [`Error::Http`] naming the call, an error status is
    /// [`Error::Backend`].
    async fn send(&self, call: &Call, timeout: Option<Duration>) -> Result<HttpResponse> {
        let credentials = !call.token.is_empty();
        let mut headers = Vec::new();
        if credentials {
            headers.push(("x-auth-token".to_owned(), call.token.clone()));
        }
        if !call.body.is_empty() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        let request = HttpRequest {
            method: call.method,
            url: call.url.clone(),
            headers,
            body: call.body.clone(),
            timeout,
            credentials,
        };
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| in_call(&call.name(), e))?;
        check_status(response).await
    }

    /// GETs a small body (at most `cap` bytes), retrying per the options the errors `retryable`
    /// accepts.
    async fn get_small(
        &self,
        call: &Call,
        retryable: fn(&Error) -> bool,
        cap: usize,
    ) -> Result<Vec<u8>> {
        self.retrying(call, retryable, || {
            Box::pin(async {
                let mut response = self.send(call, Some(self.options.call_timeout)).await?;
                read_body(&mut response, cap)
                    .await
                    .map_err(|e| in_call(&call.name(), e))
            })
        })
        .await
    }

    /// GETs JSON into `T` (unknown fields ignored).
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        route: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        let call = self.call(Method::Get, route, query)?;
        self.get_json_with(&call, is_retryable).await
    }

    /// GETs `call`'s JSON into `T`, retrying the errors `retryable` accepts.
    pub(crate) async fn get_json_with<T: DeserializeOwned>(
        &self,
        call: &Call,
        retryable: fn(&Error) -> bool,
    ) -> Result<T> {
        let body = self.get_small(call, retryable, MAX_SMALL_BODY).await?;
        parse_json(&body, call)
    }

    /// GETs a public `url` (no auth header) of at most `cap` bytes, retrying per the options.
    pub(crate) async fn get_public(&self, url: &str, cap: usize) -> Result<Vec<u8>> {
        self.get_small(&Call::public(url), is_retryable, cap).await
    }

    /// GETs a body as text (env.json and schema.json, in either shape).
    pub(crate) async fn get_text(&self, route: &str) -> Result<(String, String)> {
        let call = self.call(Method::Get, route, &[])?;
        let body = self.get_small(&call, is_retryable, MAX_SMALL_BODY).await?;
        let text = String::from_utf8(body).map_err(|_| Error::InvalidJson {
            source_name: call.name(),
            reason: "the body is not UTF-8".into(),
        })?;
        Ok((text, call.name()))
    }

    /// POSTs a JSON body once (never retried: a POST may have been applied before the error).
    pub(crate) async fn post_json(&self, route: &str, body: &Value) -> Result<()> {
        let mut call = self.call(Method::Post, route, &[])?;
        call.body = body.to_string().into_bytes();
        self.write(&call).await.map(drop)
    }

    /// Sends a write (POST, PATCH) once — never retried: it may have been applied before the error —
    /// and gives the answer's body.
    pub(crate) async fn write(&self, call: &Call) -> Result<Vec<u8>> {
        let mut response = self.send(call, Some(self.options.call_timeout)).await?;
        read_body(&mut response, MAX_SMALL_BODY)
            .await
            .map_err(|e| in_call(&call.name(), e))
    }

    /// GETs an API download of at most `cap` bytes into `dest` (see [`download_to`]), retrying per
    /// the options.
    pub(crate) async fn download(
        &self,
        route: &str,
        query: &[(&str, &str)],
        dest: &Path,
        cap: u64,
    ) -> Result<u64> {
        let call = self.call(Method::Get, route, query)?;
        self.download_call(&call, dest, cap).await
    }

    /// GETs a public link (no auth header) into `dest`, retrying per the options.
    pub(crate) async fn download_public(&self, url: &str, dest: &Path) -> Result<u64> {
        let call = Call::public(url);
        self.download_call(&call, dest, self.options.max_download_bytes)
            .await
    }

    /// GETs `call` into `dest`, at most `cap` bytes, retrying per the options.
    async fn download_call(&self, call: &Call, dest: &Path, cap: u64) -> Result<u64> {
        self.retrying(call, is_retryable, || {
            Box::pin(async {
                let response = self.send(call, None).await?;
                download_to(response, dest, cap)
                    .await
                    .map_err(|e| in_call(&call.name(), e))
            })
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent. Retried: what
    /// `retryable` accepts (usually [`is_retryable`]); each retry is logged as a warning.
    async fn retrying<'a, T>(
        &self,
        call: &Call,
        retryable: fn(&Error) -> bool,
        mut attempt: impl FnMut() -> BoxFuture<'a, Result<T>>,
    ) -> Result<T> {
        let mut retries = 0;
        loop {
            match attempt().await {
                Err(e) if retries < self.options.retries && retryable(&e) => {
                    retries += 1;
                    let wait = self.options.backoff.delay(retries - 1);
                    self.logger.warning(format!(
                        "{}: {e}; retry {retries} of {} in {} ms",
                        call.name(),
                        self.options.retries,
                        wait.as_millis()
                    ));
                    tokio::time::sleep(wait).await;
                }
                result => return result,
            }
        }
    }
}

/// What GETs retry: transport errors ([`Error::Http`]) and 5xx answers.
pub(crate) fn is_retryable(error: &Error) -> bool {
    match error {
        Error::Http { .. } => true,
        Error::Backend { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Adds the call's name to a transport or TLS error; other errors already say what they are.
fn in_call(name: &str, error: Error) -> Error {
    match error {
        Error::Http { reason, source } => Error::Http {
            reason: format!("{name}: {reason}"),
            source,
        },
        Error::Tls { reason, source } => Error::Tls {
            reason: format!("{name}: {reason}"),
            source,
        },
        other => other,
    }
}

/// `body` as JSON into `T`; an error names `call`.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8], call: &Call) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::InvalidJson {
        source_name: call.name(),
        reason: e.to_string(),
    })
}

/// Passes a 2xx response on; turns any other status into [`Error::Backend`] with the body's detail.
async fn check_status(mut response: HttpResponse) -> Result<HttpResponse> {
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    // A body that breaks off still leaves the status to report.
    let body = read_body(&mut response, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    Err(Error::Backend {
        status: response.status,
        detail: detail_of(&body),
    })
}

/// The `detail` of a backend error body: its text, or its JSON (FastAPI's 422 list) on one line; a
/// body without one gives its start.
pub(crate) fn detail_of(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut object)) if object.contains_key("detail") => {
            match object.remove("detail") {
                Some(Value::String(text)) => text,
                Some(other) => other.to_string(),
                None => String::new(),
            }
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            text.chars().take(200).collect()
        }
    }
}

/// Reads the whole body, refusing one over `cap` bytes.
async fn read_body(response: &mut HttpResponse, cap: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.body.next_chunk().await? {
        if body.len() + chunk.len() > cap {
            return Err(Error::http(format!("the body exceeds {cap} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Streams the body into a temp file next to `dest`, then renames it over `dest`: `dest` is either
/// untouched or complete. Refuses a body over `cap` bytes (before writing, when `Content-Length` says
/// so) and one that ends before its `Content-Length`. Returns the bytes written.
async fn download_to(mut response: HttpResponse, dest: &Path, cap: u64) -> Result<u64> {
    let expected = response.content_length();
    let too_large = || {
        Error::io(
            dest,
            io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("the download exceeds {cap} bytes"),
            ),
        )
    };
    if expected.is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let tmp = files::temp_sibling(dest);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, e))?;
    let result = async {
        let mut written = 0u64;
        while let Some(chunk) = response.body.next_chunk().await? {
            written += chunk.len() as u64;
            if written > cap {
                return Err(too_large());
            }
            if expected.is_some_and(|n| written > n) {
                return Err(Error::http(format!(
                    "the body is longer than its Content-Length {}",
                    expected.unwrap_or_default()
                )));
            }
            file.write_all(&chunk).map_err(|e| Error::io(&tmp, e))?;
        }
        if let Some(n) = expected.filter(|n| *n != written) {
            return Err(Error::http(format!(
                "the body ended after {written} of {n} bytes"
            )));
        }
        finish(&file, &tmp, dest)?;
        Ok(written)
    }
    .await;
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsyncs the downloaded temp file and renames it over `dest`, durably.
fn finish(file: &File, tmp: &Path, dest: &Path) -> Result<()> {
    file.sync_all().map_err(|e| Error::io(tmp, e))?;
    fs::rename(tmp, dest).map_err(|e| Error::io(dest, e))?;
    files::sync_parent(dest)
}

/// Percent-encodes a path segment or query component (RFC 3986 unreserved characters pass).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_come_out_as_text() {
        assert_eq!(
            detail_of(br#"{"detail": "403: 1: No Access: Invalid token"}"#),
            "403: 1: No Access: Invalid token"
        );
        assert_eq!(
            detail_of(br#"{"detail": [{"type": "missing"}]}"#),
            r#"[{"type":"missing"}]"#
        );
        assert_eq!(detail_of(b"Bad Gateway"), "Bad Gateway");
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("a/b c&d"), "a%2Fb%20c%26d");
    }
}
