//! What an `#[pepeunit::output]` function may take: the unit, and nothing else. A trait, so that a
//! wrong type (`&PepeunitClient`) gets the list of what an output accepts, as inputs get theirs
//! from `FromMessage`, instead of rustc's advice to borrow.

use crate::client::PepeunitClient;

/// What an output function takes as its argument (`output_arg::<T>(unit)`, what
/// `#[pepeunit::output]` calls).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a `#[pepeunit::output]` function",
    label = "an output takes `PepeunitClient` (by value), not `{Self}`",
    note = "an output function takes no argument or `unit: PepeunitClient`"
)]
pub trait OutputArgument {
    /// Made from the unit.
    fn from_unit(unit: PepeunitClient) -> Self;
}

impl OutputArgument for PepeunitClient {
    fn from_unit(unit: PepeunitClient) -> Self {
        unit
    }
}

/// An output's argument of type `T`.
pub fn output_arg<T: OutputArgument>(unit: PepeunitClient) -> T {
    T::from_unit(unit)
}
