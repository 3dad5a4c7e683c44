//! The table `#[pepeunit::state]` registers types into (a linkme distributed slice, one per binary):
//! `#[pepeunit::main]` makes every declared state when the unit starts, so that stored ones are loaded
//! before the first handler runs and the lock order does not depend on which handler ran first.

use super::UnitState;
use crate::client::PepeunitClient;

/// A type declared with `#[pepeunit::state]`.
pub struct StateEntry {
    /// Its name, for sorting (link order is not stable).
    pub name: &'static str,
    /// Makes its value for a unit.
    pub make: fn(&PepeunitClient),
}

/// Every `#[pepeunit::state]` type of the binary.
#[linkme::distributed_slice]
pub static STATES: [StateEntry];

/// Makes the value of `T` for `unit` (an entry's `make`).
pub fn make_state<T: UnitState>(unit: &PepeunitClient) {
    unit.state::<T>();
}

/// Makes every declared state for `unit`, sorted by name.
pub(crate) fn make_states(unit: &PepeunitClient) {
    let mut entries: Vec<&StateEntry> = STATES.iter().collect();
    entries.sort_by_key(|entry| entry.name);
    for entry in entries {
        (entry.make)(unit);
    }
}
