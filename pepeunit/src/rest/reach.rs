//! The calls of PROTOCOL §7a: what a unit token may do beyond its own files — read any unit or node
//! it can see, write another unit's input, send itself a command, read its log kept by the instance,
//! read a node's DataPipe records or their CSV export, and ask the instance what it runs. Routes,
//! queries and the backend's quirks live here; `client/rest.rs` makes them `PepeunitClient` methods.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::api::{RestApi, encode, is_retryable, parse_json};
use super::data_pipe::DataPipeQuery;
use super::http::Method;
use super::query::{LogQuery, Order, Page, uuid_arg};
use super::types::{InstanceInfo, PipeData, Unit, UnitLog, UnitLogs, UnitNode};
use crate::command::Command;
use crate::error::{Error, Result};
use crate::files;
use crate::log_level::LogLevel;
use crate::update::archive::{self, ArchiveFormat, ExtractLimits};

impl RestApi {
    /// `GET /units/{uuid}`: any unit the token may see.
    pub(crate) async fn get_unit(&self, uuid: &str) -> Result<Unit> {
        let route = format!("/units/{}", encode(uuid_arg("unit", uuid)?));
        self.get_json(&route, &[]).await
    }

    /// `GET /unit_nodes/{uuid}`: any node the token may see. The backend answers an unknown uuid with
    /// a 500 (it fails on the missing node before it can say so); that 500 is not retried and reads
    /// "not found or not visible".
    pub(crate) async fn get_unit_node(&self, uuid: &str) -> Result<UnitNode> {
        let route = format!("/unit_nodes/{}", encode(uuid_arg("unit node", uuid)?));
        let call = self.call(Method::Get, &route, &[])?;
        let retryable = |e: &Error| is_retryable(e) && !is_internal_error(e);
        self.get_json_with(&call, retryable)
            .await
            .map_err(|e| match e {
                Error::Backend { status, detail } if status == INTERNAL_ERROR => Error::Backend {
                    status,
                    detail: format!(
                        "unit node {uuid} not found or not visible (the backend answers an \
                         unknown node with {status}: {detail})"
                    ),
                },
                other => other,
            })
    }

    /// `PATCH /unit_nodes/set_state_input/{uuid}` with `{"state": …}` (never retried).
    pub(crate) async fn set_state_input(
        &self,
        node_uuid: &str,
        state: Option<&str>,
    ) -> Result<UnitNode> {
        let route = format!(
            "/unit_nodes/set_state_input/{}",
            encode(uuid_arg("unit node", node_uuid)?)
        );
        let mut call = self.call(Method::Patch, &route, &[])?;
        call.body = json!({ "state": state }).to_string().into_bytes();
        let body = self.write(&call).await?;
        parse_json(&body, &call)
    }

    /// `POST /units/send_command_to_input_base_topic/{own uuid}?command=…` (never retried).
    pub(crate) async fn send_command(&self, command: Command) -> Result<()> {
        if command == Command::Reset {
            return Err(Error::InvalidArgument(
                "the backend's send_command cannot ask for Reset (PROTOCOL §7a)".into(),
            ));
        }
        let call = self.call(
            Method::Post,
            "/units/send_command_to_input_base_topic/{uuid}",
            &[("command", command.as_str())],
        )?;
        self.write(&call).await.map(drop)
    }

    /// `GET /units/log_list/` (the trailing slash is part of the route) for the unit's own log.
    pub(crate) async fn log_list(&self, query: &LogQuery) -> Result<UnitLogs> {
        let uuid = self.settings.current().unit_uuid()?;
        let page = query.page.params()?;
        let mut params = vec![("uuid", uuid.as_str())];
        params.extend(query.levels.iter().map(|l| ("level", l.as_str())));
        params.push(("order_by_create_date", query.order.as_str()));
        params.extend(page.iter().map(|(k, v)| (*k, v.as_str())));
        self.get_json("/units/log_list/", &params).await
    }

    /// Every entry [`RestApi::log_list`] would give for `levels`, page after page.
    pub(crate) async fn log_list_all(
        &self,
        levels: &[LogLevel],
        order: Order,
    ) -> Result<Vec<UnitLog>> {
        all_pages(|page| async move {
            let query = LogQuery {
                levels: levels.to_vec(),
                order,
                page,
            };
            let logs = self.log_list(&query).await?;
            Ok((logs.count, logs.unit_logs))
        })
        .await
    }

    /// `GET /unit_nodes/get_data_pipe_data/` (trailing slash) for `node_uuid` with `query`.
    pub(crate) async fn data_pipe_data<Q: DataPipeQuery>(
        &self,
        node_uuid: &str,
        query: &Q,
    ) -> Result<PipeData<Q::Record>> {
        let node = uuid_arg("unit node", node_uuid)?;
        let page = query.page().params()?;
        let filters = query.filters()?;
        let mut params = vec![("uuid", node), ("type", Q::POLICY)];
        params.extend(filters.iter().map(|(k, v)| (*k, v.as_str())));
        params.extend(page.iter().map(|(k, v)| (*k, v.as_str())));
        self.get_json("/unit_nodes/get_data_pipe_data/", &params)
            .await
    }

    /// Every record [`RestApi::data_pipe_data`] would give for `query`'s filters, page after page.
    pub(crate) async fn data_pipe_data_all<Q: DataPipeQuery>(
        &self,
        node_uuid: &str,
        query: &Q,
    ) -> Result<Vec<Q::Record>> {
        all_pages(|page| async move {
            let data = self
                .data_pipe_data(node_uuid, &query.with_page(page))
                .await?;
            Ok((data.count, data.pipe_data))
        })
        .await
    }

    /// `GET /unit_nodes/get_data_pipe_data_csv/{uuid}`: the ZIP is streamed to a temp file beside
    /// env.json, unpacked by the crate's zip reader (one member, both capped by
    /// `RestOptions::max_csv_bytes`) and its CSV text returned; the temp files are removed.
    pub(crate) async fn data_pipe_csv(&self, node_uuid: &str) -> Result<String> {
        let route = format!(
            "/unit_nodes/get_data_pipe_data_csv/{}",
            encode(uuid_arg("unit node", node_uuid)?)
        );
        let name = self.call(Method::Get, &route, &[])?.name();
        let program_dir = files::parent_dir(self.settings.path());
        let work = WorkDir::create(files::temp_sibling(&program_dir.join("pepeunit-csv")))?;
        let zip = work.0.join("data.zip");
        let cap = self.options.max_csv_bytes;
        self.download(&route, &[], &zip, cap)
            .await
            .map_err(|e| in_export(&name, e))?;
        let unpacked = work.0.join("unpacked");
        fs::create_dir(&unpacked).map_err(|e| Error::io(&unpacked, e))?;
        let limits = ExtractLimits {
            max_total_bytes: cap,
            max_entries: 1,
        };
        let report = archive::extract(&zip, &unpacked, &limits).map_err(|e| in_export(&name, e))?;
        if report.format != ArchiveFormat::Zip || report.files != 1 {
            return Err(export_error(
                &name,
                None,
                "the body is not a zip holding one CSV",
            ));
        }
        read_only_file(&unpacked, &name)
    }

    /// `GET {PU_APP_PREFIX}` without the token: the backend's version and feature flags.
    pub(crate) async fn instance_info(&self) -> Result<InstanceInfo> {
        let call = self.instance_call();
        self.get_json_with(&call, is_retryable).await
    }
}

/// The status the backend gives a node it does not know.
const INTERNAL_ERROR: u16 = 500;

fn is_internal_error(error: &Error) -> bool {
    matches!(error, Error::Backend { status, .. } if *status == INTERNAL_ERROR)
}

/// Reads every page of a listing: `fetch(page)` gives the total count and the page's items. Stops
/// at the count, or at a short or empty page (the listing shrank meanwhile).
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = Result<(u64, Vec<T>)>>,
{
    let mut items = Vec::new();
    loop {
        let page = Page::largest(u32::try_from(items.len()).unwrap_or(u32::MAX));
        let (count, batch) = fetch(page).await?;
        let short = batch.len() < page.limit as usize;
        items.extend(batch);
        if short || items.len() as u64 >= count {
            return Ok(items);
        }
    }
}

/// The one file `dir` holds, as text; errors name `call`.
fn read_only_file(dir: &Path, call: &str) -> Result<String> {
    let entry = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .next()
        .ok_or_else(|| export_error(call, None, "the zip is empty"))?
        .map_err(|e| Error::io(dir, e))?;
    let member = entry.file_name().to_string_lossy().into_owned();
    let bytes = fs::read(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
    String::from_utf8(bytes).map_err(|_| export_error(call, Some(member), "not UTF-8 text"))
}

/// An error about the CSV export named after the call (its temp files are gone by then).
fn export_error(call: &str, entry: Option<String>, reason: &str) -> Error {
    Error::Archive {
        archive: PathBuf::from(call),
        entry,
        reason: reason.to_owned(),
    }
}

/// Names the call in a download or archive error instead of the temp file.
fn in_export(call: &str, error: Error) -> Error {
    match error {
        Error::Archive { entry, reason, .. } => Error::Archive {
            archive: PathBuf::from(call),
            entry,
            reason,
        },
        Error::Io { source, .. } => Error::io(call, source),
        other => other,
    }
}

/// A temp directory removed with everything in it when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create(path: PathBuf) -> Result<WorkDir> {
        fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        Ok(WorkDir(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
