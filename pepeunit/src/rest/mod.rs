//! The REST transport and the Pepeunit REST calls (PROTOCOL §7), cargo feature `rest`.
//!
//! [`http`] is the seam: an object-safe [`HttpClient`] trait a unit can implement over any HTTP crate;
//! [`ReqwestHttp`] is the default. Everything Pepeunit-specific — URLs built from the settings in
//! force at each call, the `x-auth-token` header, both response shapes of env/schema, `{"detail": …}`
//! errors as [`Error::Backend`], retries of GETs — is done once, here. The calls
//! are methods of [`PepeunitClient`]; on a client built without `.rest(true)` they return
//! [`Error::RestDisabled`].
//!
//! The token only ever travels in the `x-auth-token` header: never in a URL, an error or a log line.

mod api;
#[cfg(feature = "mqtt")]
pub mod commands;
pub mod http;
mod reqwest_http;
pub mod types;
pub mod update;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;

pub(crate) use api::RestApi;
pub use api::{ArchiveRequest, RestOptions};
pub use http::{BodyStream, BoxFuture, HttpClient, HttpRequest, HttpResponse, Method};
pub use reqwest_http::{HttpTimeouts, ReqwestHttp};
pub use types::{TargetVersion, Unit, UnitNode, UnitNodeType, UnitNodes, Units};

use crate::client::PepeunitClient;
use crate::error::{Error, Result};
use crate::files;
use crate::logger::Logger;
use crate::schema::Topics;
use crate::settings::{Env, Settings, decode_json_object};

/// The REST part of a [`crate::client::ClientBuilder`]: off by default.
#[derive(Clone, Default)]
pub(crate) struct RestSetup {
    pub(crate) enabled: bool,
    pub(crate) http: Option<Arc<dyn HttpClient>>,
    pub(crate) options: RestOptions,
}

impl RestSetup {
    /// The client's REST half, or `None` when REST is off.
    pub(crate) fn build(&self, settings: &Settings, logger: &Logger) -> Result<Option<RestApi>> {
        if !self.enabled {
            return Ok(None);
        }
        RestApi::new(
            settings.clone(),
            logger.clone(),
            self.http.clone(),
            self.options.clone(),
        )
        .map(Some)
    }
}

impl fmt::Debug for RestSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestSetup")
            .field("enabled", &self.enabled)
            .field("custom_http", &self.http.is_some())
            .field("options", &self.options)
            .finish()
    }
}

/// The REST calls of the client (PROTOCOL §7).
impl PepeunitClient {
    /// Downloads the update archive (format per [`RestOptions::archive`]) to `path`, streamed through a
    /// temp file beside it: `path` is either untouched or complete. Returns the bytes written.
    pub async fn download_update(&self, path: &Path) -> Result<u64> {
        let rest = self.rest_api()?;
        let (route, query) = match rest.options.archive {
            ArchiveRequest::Tgz { wbits, level } => (
                "/units/firmware/tgz/{uuid}",
                vec![("wbits", wbits.to_string()), ("level", level.to_string())],
            ),
            ArchiveRequest::Tar => ("/units/firmware/tar/{uuid}", Vec::new()),
            ArchiveRequest::Zip => ("/units/firmware/zip/{uuid}", Vec::new()),
        };
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        rest.download(route, &query, path).await
    }

    /// Downloads the unit's env.json to `path`. The body (either shape) must be a usable env — valid,
    /// with a unit token — before it atomically replaces `path`; on any failure `path` is untouched.
    pub async fn download_env(&self, path: &Path) -> Result<()> {
        let text = self.fetch_env().await?;
        files::write_atomic(path, text.as_bytes())
    }

    /// Downloads the unit's schema.json to `path`, validated like [`PepeunitClient::download_env`].
    pub async fn download_schema(&self, path: &Path) -> Result<()> {
        let text = self.fetch_schema().await?;
        files::write_atomic(path, text.as_bytes())
    }

    /// Stores `state` on the backend (at most 1,000,000 characters, else the backend's 422).
    pub async fn set_state_storage(&self, state: &str) -> Result<()> {
        self.rest_api()?
            .post_json(
                "/units/set_state_storage/{uuid}",
                &json!({ "state": state }),
            )
            .await
    }

    /// The state stored with [`PepeunitClient::set_state_storage`] (`""` when none).
    pub async fn get_state_storage(&self) -> Result<String> {
        self.rest_api()?
            .get_json("/units/get_state_storage/{uuid}", &[])
            .await
    }

    /// The input nodes fed by the output node of `topic` (a physical topic `domain/<node uuid>/…`),
    /// newest link first; `limit` ≤ 500.
    pub async fn get_input_by_output(
        &self,
        topic: &str,
        limit: u32,
        offset: u32,
    ) -> Result<UnitNodes> {
        let rest = self.rest_api()?;
        let node = topic
            .split('/')
            .nth(1)
            .filter(|uuid| !uuid.is_empty())
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{topic:?} is not a unit node topic (domain/<node uuid>[/…])"
                ))
            })?;
        let (limit, offset) = (limit.to_string(), offset.to_string());
        let query = [
            ("output_uuid", node),
            ("order_by_create_date", "desc"),
            ("limit", &limit),
            ("offset", &offset),
        ];
        rest.get_json("/unit_nodes", &query).await
    }

    /// The units owning the unit nodes `node_uuids`, by name, with their output nodes; `limit` ≤ 500.
    /// No uuids gives no units (the backend would list every unit).
    pub async fn get_units_by_nodes(
        &self,
        node_uuids: &[&str],
        limit: u32,
        offset: u32,
    ) -> Result<Units> {
        let rest = self.rest_api()?;
        if node_uuids.is_empty() {
            return Ok(Units {
                count: 0,
                units: Vec::new(),
            });
        }
        let (limit, offset) = (limit.to_string(), offset.to_string());
        let mut query = vec![
            ("is_include_output_unit_nodes", "true"),
            ("order_by_unit_name", "asc"),
            ("limit", limit.as_str()),
            ("offset", offset.as_str()),
        ];
        query.extend(node_uuids.iter().map(|uuid| ("unit_node_uuids", *uuid)));
        rest.get_json("/units", &query).await
    }

    /// The version the backend wants this unit to run.
    pub async fn get_target_version(&self) -> Result<TargetVersion> {
        self.rest_api()?
            .get_json("/units/get_target_version/{uuid}", &[])
            .await
    }

    /// GETs env.json and gives the text to write once it is known to be a usable env (valid, with a
    /// unit token).
    pub(crate) async fn fetch_env(&self) -> Result<String> {
        let (text, source) = self.rest_api()?.get_text("/units/env/{uuid}").await?;
        let pretty = to_pretty(&text, &source)?;
        Env::parse(&pretty, &source)?.unit_uuid()?;
        Ok(pretty)
    }

    /// GETs schema.json and gives the text to write once it is known to be a valid schema.
    pub(crate) async fn fetch_schema(&self) -> Result<String> {
        let (text, source) = self
            .rest_api()?
            .get_text("/units/get_current_schema/{uuid}")
            .await?;
        let pretty = to_pretty(&text, &source)?;
        Topics::parse(&pretty, &source)?;
        Ok(pretty)
    }
}

/// The body's JSON object as a file's text: either body shape (PROTOCOL §7) becomes a plain object.
fn to_pretty(body: &str, source: &str) -> Result<String> {
    let object = decode_json_object(body, source)?;
    serde_json::to_string_pretty(&object).map_err(|e| Error::InvalidJson {
        source_name: source.to_owned(),
        reason: e.to_string(),
    })
}
