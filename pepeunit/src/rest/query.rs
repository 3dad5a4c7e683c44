//! What the calls of PROTOCOL §7a ask for: a page of a listing, its order, the unit's log query and
//! the commands a unit may send itself. Each is checked before the request, so a value the backend
//! would refuse (a `limit` over 500) is an [`Error::InvalidArgument`] naming it, not a round trip.

use crate::error::{Error, Result};
use crate::log_level::LogLevel;

/// The backend's largest page (`limit`).
pub const MAX_PAGE: u32 = 500;

/// One page of a listing: skip `offset` items, give at most `limit` (1 to [`MAX_PAGE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items skipped.
    pub offset: u32,
    /// Items given at most, 1 to 500.
    pub limit: u32,
}

impl Default for Page {
    /// The first 100 items.
    fn default() -> Self {
        Page {
            offset: 0,
            limit: 100,
        }
    }
}

impl Page {
    /// The largest page at `offset`: what the `…_all` helpers read with.
    pub fn largest(offset: u32) -> Page {
        Page {
            offset,
            limit: MAX_PAGE,
        }
    }

    /// The `offset` and `limit` query parameters, or an error for a limit the backend refuses (over
    /// 500) or reads as "everything" (0, which could be an unbounded answer).
    pub(crate) fn params(self) -> Result<[(&'static str, String); 2]> {
        if self.limit == 0 || self.limit > MAX_PAGE {
            return Err(Error::InvalidArgument(format!(
                "limit {} is outside 1…{MAX_PAGE}, the backend's page size; read every page with \
                 the `…_all` call",
                self.limit
            )));
        }
        Ok([
            ("offset", self.offset.to_string()),
            ("limit", self.limit.to_string()),
        ])
    }
}

/// The order of a listing by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the backend's default).
    #[default]
    Desc,
}

impl Order {
    /// The `order_by_create_date` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// Which of the unit's own log entries the instance keeps (24 h) `log_list` gives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// The levels wanted; empty means every level (the backend's default).
    pub levels: Vec<LogLevel>,
    /// Newest or oldest first.
    pub order: Order,
    /// Which page.
    pub page: Page,
}

/// `uuid` if it is a uuid (32 hex digits, hyphens allowed), else an error naming `what`. A path
/// segment that is not one would reach another route (`/units/log_list`).
pub(crate) fn uuid_arg<'a>(what: &str, uuid: &'a str) -> Result<&'a str> {
    let hex = uuid.chars().filter(|c| *c != '-').count();
    if hex == 32 && uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        Ok(uuid)
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} {uuid:?} is not a uuid"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_one_to_five_hundred() {
        assert!(Page::largest(7).params().is_ok());
        for limit in [0, 501] {
            let error = Page { offset: 0, limit }.params().unwrap_err().to_string();
            assert!(error.contains(&format!("limit {limit} ")), "{error}");
        }
    }

    #[test]
    fn uuids_are_hex_with_optional_hyphens() {
        assert!(uuid_arg("node", "0d6e4a4a-2a1c-4c3b-9f39-6a8c4a1e1f00").is_ok());
        assert!(uuid_arg("node", "0d6e4a4a2a1c4c3b9f396a8c4a1e1f00").is_ok());
        for bad in [
            "log_list",
            "",
            "0d6e4a4a-2a1c-4c3b-9f39-6a8c4a1e1f0g",
            "../x",
        ] {
            assert!(uuid_arg("node", bad).is_err(), "{bad}");
        }
    }
}
