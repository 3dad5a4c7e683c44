//! Typed DataPipe queries (PROTOCOL §7a): one type per pipeline a node may have — `NRecords`,
//! `TimeWindow`, `Aggregation` — each with the parameters the backend reads for it and the record
//! type it answers with. `LastValue` has none: the backend answers `type=LastValue` with a 500, and
//! the node's `state` (`get_unit_node`) is that last value.

use serde::de::DeserializeOwned;

use super::query::{Order, Page};
use super::types::{AggregateRecord, AggregationFunction, NRecord, WindowRecord};
use crate::error::{Error, Result};

/// The window lengths (seconds) DataPipe aggregates and keeps values over.
pub const TIME_WINDOW_SIZES: [u32; 14] = [
    60, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400,
];

/// A span of time back from now (`relative_time`: `<n>s`, `m`, `h`, `d`, `M` months, `y` years).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelativeTime {
    amount: u32,
    unit: char,
}

impl RelativeTime {
    /// The last `n` seconds.
    pub fn seconds(n: u32) -> Self {
        RelativeTime {
            amount: n,
            unit: 's',
        }
    }

    /// The last `n` minutes.
    pub fn minutes(n: u32) -> Self {
        RelativeTime {
            amount: n,
            unit: 'm',
        }
    }

    /// The last `n` hours.
    pub fn hours(n: u32) -> Self {
        RelativeTime {
            amount: n,
            unit: 'h',
        }
    }

    /// The last `n` days.
    pub fn days(n: u32) -> Self {
        RelativeTime {
            amount: n,
            unit: 'd',
        }
    }

    /// The last `n` calendar months.
    pub fn months(n: u32) -> Self {
        RelativeTime {
            amount: n,
            unit: 'M',
        }
    }

    /// The last `n` calendar years.
    pub fn years(n: u32) -> Self {
        RelativeTime {
            amount: n,
            unit: 'y',
        }
    }

    /// The parameter's value, e.g. `1h`.
    pub fn as_param(self) -> String {
        format!("{}{}", self.amount, self.unit)
    }
}

/// Which records by creation time: from and to (ISO 8601, UTC, e.g. `2025-04-08T11:00:00`) and/or
/// within a span back from now. Unset bounds are open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Created {
    /// `start_create_datetime`: created at or after.
    pub from: Option<String>,
    /// `end_create_datetime`: created at or before.
    pub to: Option<String>,
    /// `relative_time`: created within this span back from now.
    pub within: Option<RelativeTime>,
}

impl Created {
    fn params(&self, out: &mut Vec<(&'static str, String)>) {
        out.extend(self.from.clone().map(|v| ("start_create_datetime", v)));
        out.extend(self.to.clone().map(|v| ("end_create_datetime", v)));
        out.extend(self.within.map(|v| ("relative_time", v.as_param())));
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A DataPipe query: the pipeline it reads (`type=`), its parameters and the records it gives.
/// Implemented by [`NRecordsQuery`], [`TimeWindowQuery`] and [`AggregationQuery`] only.
pub trait DataPipeQuery: sealed::Sealed + Clone + Send + Sync {
    /// The records this query answers with.
    type Record: DeserializeOwned + Send;

    /// The `type` value: `NRecords`, `TimeWindow` or `Aggregation`.
    const POLICY: &'static str;

    /// Which page the query asks for.
    fn page(&self) -> Page;

    /// The same query for another page.
    fn with_page(&self, page: Page) -> Self;

    /// Every parameter but `uuid`, `type`, `offset` and `limit`; an error for one the backend
    /// would not understand.
    fn filters(&self) -> Result<Vec<(&'static str, String)>>;
}

/// A node's `NRecords` values: its last N values, each as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NRecordsQuery {
    /// `search_string`: only values containing this text (case-insensitive).
    pub search: Option<String>,
    /// Which values by arrival time.
    pub created: Created,
    /// Newest or oldest first.
    pub order: Order,
    /// Which page.
    pub page: Page,
}

/// A node's `TimeWindow` values: those younger than its window, each as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeWindowQuery {
    /// `search_string`: only values containing this text (case-insensitive).
    pub search: Option<String>,
    /// Which values by arrival time.
    pub created: Created,
    /// Newest or oldest first.
    pub order: Order,
    /// Which page.
    pub page: Page,
}

/// A node's `Aggregation` results: one number per function and window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AggregationQuery {
    /// `aggregation_type`: the functions wanted; empty means all four (the backend's default).
    pub functions: Vec<AggregationFunction>,
    /// `time_window_size`: only windows of this many seconds (one of [`TIME_WINDOW_SIZES`]).
    pub window_size: Option<u32>,
    /// `start_agg_window_datetime`: only windows ending at or after this time.
    pub window_from: Option<String>,
    /// `end_agg_window_datetime`: only windows ending at or before this time.
    pub window_to: Option<String>,
    /// Which results by computation time.
    pub created: Created,
    /// Newest or oldest first.
    pub order: Order,
    /// Which page.
    pub page: Page,
}

impl sealed::Sealed for NRecordsQuery {}
impl sealed::Sealed for TimeWindowQuery {}
impl sealed::Sealed for AggregationQuery {}

/// The parameters the two value pipelines share.
fn value_filters(
    search: &Option<String>,
    created: &Created,
    order: Order,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = search
        .clone()
        .map(|s| ("search_string", s))
        .into_iter()
        .collect();
    created.params(&mut out);
    out.push(("order_by_create_date", order.as_str().to_owned()));
    out
}

/// The two value pipelines' queries differ only in their type and records.
macro_rules! value_query {
    ($query:ident, $record:ident, $policy:literal) => {
        impl DataPipeQuery for $query {
            type Record = $record;
            const POLICY: &'static str = $policy;

            fn page(&self) -> Page {
                self.page
            }

            fn with_page(&self, page: Page) -> Self {
                $query {
                    page,
                    ..self.clone()
                }
            }

            fn filters(&self) -> Result<Vec<(&'static str, String)>> {
                Ok(value_filters(&self.search, &self.created, self.order))
            }
        }
    };
}

value_query!(NRecordsQuery, NRecord, "NRecords");
value_query!(TimeWindowQuery, WindowRecord, "TimeWindow");

impl DataPipeQuery for AggregationQuery {
    type Record = AggregateRecord;
    const POLICY: &'static str = "Aggregation";

    fn page(&self) -> Page {
        self.page
    }

    fn with_page(&self, page: Page) -> Self {
        AggregationQuery {
            page,
            ..self.clone()
        }
    }

    fn filters(&self) -> Result<Vec<(&'static str, String)>> {
        let mut out: Vec<(&'static str, String)> = self
            .functions
            .iter()
            .map(|f| ("aggregation_type", f.as_str().to_owned()))
            .collect();
        if let Some(size) = self.window_size {
            if !TIME_WINDOW_SIZES.contains(&size) {
                return Err(Error::InvalidArgument(format!(
                    "time_window_size {size} is not a DataPipe window (one of {TIME_WINDOW_SIZES:?} s)"
                )));
            }
            out.push(("time_window_size", size.to_string()));
        }
        out.extend(
            self.window_from
                .clone()
                .map(|v| ("start_agg_window_datetime", v)),
        );
        out.extend(
            self.window_to
                .clone()
                .map(|v| ("end_agg_window_datetime", v)),
        );
        self.created.params(&mut out);
        out.push(("order_by_create_date", self.order.as_str().to_owned()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_parameters_repeat_functions_and_check_the_window() {
        let query = AggregationQuery {
            functions: vec![AggregationFunction::Avg, AggregationFunction::Max],
            window_size: Some(3600),
            created: Created {
                within: Some(RelativeTime::hours(1)),
                ..Created::default()
            },
            ..AggregationQuery::default()
        };
        let params = query.filters().unwrap();
        assert_eq!(
            params,
            [
                ("aggregation_type", "Avg".to_owned()),
                ("aggregation_type", "Max".to_owned()),
                ("time_window_size", "3600".to_owned()),
                ("relative_time", "1h".to_owned()),
                ("order_by_create_date", "desc".to_owned()),
            ]
        );
        let odd = AggregationQuery {
            window_size: Some(61),
            ..AggregationQuery::default()
        };
        assert!(odd.filters().unwrap_err().to_string().contains("61"));
    }

    #[test]
    fn relative_times_keep_months_apart_from_minutes() {
        assert_eq!(RelativeTime::minutes(5).as_param(), "5m");
        assert_eq!(RelativeTime::months(5).as_param(), "5M");
        assert_eq!(RelativeTime::years(2).as_param(), "2y");
    }
}
