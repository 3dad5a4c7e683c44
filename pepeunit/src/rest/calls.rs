//! The REST calls of PROTOCOL §7, on the client's [`RestApi`]: routes, queries and what each body
//! must be. `client/rest.rs` makes them methods of `PepeunitClient`.

use std::path::Path;

use serde_json::json;

use super::api::{ArchiveRequest, RestApi};
use super::types::{TargetVersion, UnitNodes, Units};
use crate::error::{Error, Result};
use crate::files;
use crate::json::decode_object;
use crate::schema::Topics;
use crate::settings::Env;

impl RestApi {
    /// Downloads the update archive (format per [`RestOptions::archive`]) to `path`, streamed through a
    /// temp file beside it: `path` is either untouched or complete. Returns the bytes written.
    pub(crate) async fn download_update(&self, path: &Path) -> Result<u64> {
        let (route, query) = match self.options.archive {
            ArchiveRequest::Tgz { wbits, level } => (
                "/units/firmware/tgz/{uuid}",
                vec![("wbits", wbits.to_string()), ("level", level.to_string())],
            ),
            ArchiveRequest::Tar => ("/units/firmware/tar/{uuid}", Vec::new()),
            ArchiveRequest::Zip => ("/units/firmware/zip/{uuid}", Vec::new()),
        };
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.download(route, &query, path, self.options.max_download_bytes)
            .await
    }

    /// Downloads the unit's env.json to `path`. The body (either shape) must be a usable env — valid,
    /// with a unit token — before it atomically replaces `path`; on any failure `path` is untouched.
    pub(crate) async fn download_env(&self, path: &Path) -> Result<()> {
        let text = self.fetch_env().await?;
        files::write_atomic(path, text.as_bytes())
    }

    /// Downloads the unit's schema.json to `path`, validated like [`PepeunitClient::download_env`].
    pub(crate) async fn download_schema(&self, path: &Path) -> Result<()> {
        let text = self.fetch_schema().await?;
        files::write_atomic(path, text.as_bytes())
    }

    /// Stores `state` on the backend (at most 1,000,000 characters, else the backend's 422).
    pub(crate) async fn set_state_storage(&self, state: &str) -> Result<()> {
        self.post_json(
            "/units/set_state_storage/{uuid}",
            &json!({ "state": state }),
        )
        .await
    }

    /// The state stored with [`PepeunitClient::set_state_storage`] (`""` when none).
    pub(crate) async fn get_state_storage(&self) -> Result<String> {
        self.get_json("/units/get_state_storage/{uuid}", &[]).await
    }

    /// The input nodes fed by the output node of `topic` (a physical topic `domain/<node uuid>/…`),
    /// newest link first; `limit` ≤ 500.
    pub(crate) async fn get_input_by_output(
        &self,
        topic: &str,
        limit: u32,
        offset: u32,
    ) -> Result<UnitNodes> {
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
        self.get_json("/unit_nodes", &query).await
    }

    /// The units owning the unit nodes `node_uuids`, by name, with their output nodes; `limit` ≤ 500.
    /// No uuids gives no units (the backend would list every unit).
    pub(crate) async fn get_units_by_nodes(
        &self,
        node_uuids: &[&str],
        limit: u32,
        offset: u32,
    ) -> Result<Units> {
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
        self.get_json("/units", &query).await
    }

    /// The version the backend wants this unit to run.
    pub(crate) async fn get_target_version(&self) -> Result<TargetVersion> {
        self.get_json("/units/get_target_version/{uuid}", &[]).await
    }

    /// GETs env.json and gives the text to write once it is known to be a usable env (valid, with a
    /// unit token).
    pub(crate) async fn fetch_env(&self) -> Result<String> {
        let (text, source) = self.get_text("/units/env/{uuid}").await?;
        let pretty = to_pretty(&text, &source)?;
        Env::parse(&pretty, &source)?.unit_uuid()?;
        Ok(pretty)
    }

    /// GETs schema.json and gives the text to write once it is known to be a valid schema.
    pub(crate) async fn fetch_schema(&self) -> Result<String> {
        let (text, source) = self.get_text("/units/get_current_schema/{uuid}").await?;
        let pretty = to_pretty(&text, &source)?;
        Topics::parse(&pretty, &source)?;
        Ok(pretty)
    }
}

/// The body's JSON object as a file's text: either body shape (PROTOCOL §7) becomes a plain object.
fn to_pretty(body: &str, source: &str) -> Result<String> {
    let object = decode_object(body, source)?;
    serde_json::to_string_pretty(&object).map_err(|e| Error::InvalidJson {
        source_name: source.to_owned(),
        reason: e.to_string(),
    })
}
