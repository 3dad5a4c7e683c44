//! What the arguments of `#[pepeunit::output]` and `#[pepeunit::main]` functions are made from: the
//! unit alone (inputs take these too, through `FromMessage`).

use super::{State, UnitState};
use crate::client::PepeunitClient;

/// A value an output's or `main`'s argument is made from: the unit or one of its states.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a `#[pepeunit::output]` or `#[pepeunit::main]` function",
    label = "not made from the unit",
    note = "these functions take `PepeunitClient` and unit states: `State<T>`, and in a plain `fn` \
            (not `async`) an output also takes `&T` and `&mut T`, for `T` declared with `#[pepeunit::state]`"
)]
pub trait FromUnit: Sized {
    /// Makes the value for `unit`.
    fn from_unit(unit: &PepeunitClient) -> Self;
}

/// Makes an argument of type `T` (what the macros call for each argument of an output or `main`).
pub fn from_unit<T: FromUnit>(unit: &PepeunitClient) -> T {
    T::from_unit(unit)
}

impl FromUnit for PepeunitClient {
    fn from_unit(unit: &PepeunitClient) -> Self {
        unit.clone()
    }
}

impl<T: UnitState> FromUnit for State<T> {
    fn from_unit(unit: &PepeunitClient) -> Self {
        unit.state::<T>()
    }
}

#[cfg(feature = "mqtt")]
impl<'a, T: UnitState> crate::runtime::FromMessage<'a> for State<T> {
    fn from_message(
        unit: &'a PepeunitClient,
        _: &'a crate::runtime::Message,
    ) -> Result<Self, crate::runtime::Rejected> {
        Ok(unit.state::<T>())
    }
}
