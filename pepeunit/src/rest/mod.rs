//! The REST transport and the Pepeunit REST calls (PROTOCOL §7), cargo feature `rest`.
//!
//! `http.rs` is the seam: an object-safe [`HttpClient`] trait a unit can implement over any HTTP crate;
//! [`ReqwestHttp`] is the default. Everything Pepeunit-specific — URLs built from the settings in
//! force at each call, the `x-auth-token` header, both response shapes of env/schema, `{"detail": …}`
//! errors as [`Error::Backend`](crate::Error::Backend), retries of GETs — is done once, here; the
//! calls themselves are in `calls.rs` (PROTOCOL §7: the unit's own files and state) and `reach.rs`
//! (§7a: other units and nodes, commands, the stored log, DataPipe, the instance), with what they
//! ask for in `query.rs` and `data_pipe.rs`. They are methods of `PepeunitClient` (`client/rest.rs`
//! forwards to them); on a client built without `.rest(true)` they return
//! [`Error::RestDisabled`](crate::Error::RestDisabled). What the update commands do with them is the
//! update pipeline's ([`crate::update`]).
//!
//! The token only ever travels in the `x-auth-token` header: never in a URL, an error or a log line.

mod api;
mod calls;
mod data_pipe;
mod http;
mod query;
mod reach;
mod reqwest_http;
mod types;

use std::fmt;
use std::sync::Arc;

pub(crate) use api::RestApi;
pub use api::{ArchiveRequest, RestOptions};
pub use data_pipe::{
    AggregationQuery, Created, DataPipeQuery, NRecordsQuery, RelativeTime, TIME_WINDOW_SIZES,
    TimeWindowQuery,
};
pub use http::{BodyStream, HttpClient, HttpRequest, HttpResponse, Method};
pub use query::{LogQuery, MAX_PAGE, Order, Page};
pub use reqwest_http::{HttpTimeouts, ReqwestHttp};
pub use types::{
    AggregateRecord, AggregationFunction, FeatureFlags, FirmwareUpdateStatus, InstanceInfo,
    NRecord, PipeData, StateType, TargetVersion, Unit, UnitLog, UnitLogs, UnitNode, UnitNodeType,
    UnitNodes, Units, WindowRecord,
};

use crate::error::Result;
use crate::logger::Logger;
use crate::settings::Settings;

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
