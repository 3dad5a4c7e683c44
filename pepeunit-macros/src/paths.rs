//! The one table of what generated code names. Everything goes through `::pepeunit::__private`
//! (which re-exports exactly these), so a unit crate depends on `pepeunit` alone and never needs
//! to have imported anything.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote_spanned};

/// An item of `::pepeunit::__private`.
#[derive(Clone, Copy)]
pub(crate) enum Item {
    /// `PepeunitClient`, the unit handle.
    Client,
    /// `Message`, an incoming message.
    Message,
    /// `InputHandler`: `typed`/`typed_blocking`.
    InputHandler,
    /// `OutputHandler`: `new`/`blocking`/`publishing`/`publishing_blocking`.
    OutputHandler,
    /// `ChangeOutput`: `publishing`/`publishing_blocking`, an `on_change` output.
    ChangeOutput,
    /// `NumericOutput`: `new`/`new_blocking`, a sampled, `delta` or `round` output.
    NumericOutput,
    /// `Reduce` of `reduce = "…"`.
    Reduce,
    /// `Outputs`, what an output's row adds itself to.
    OutputsType,
    /// `extract::<T>(&unit, &msg)`, one input argument.
    Extract,
    /// `Rejected`, a message an argument cannot be made from.
    Rejected,
    /// `Period` of a scheduled output.
    Period,
    /// `Duration` for literal periods and `cycle`.
    Duration,
    /// `Cow` for env-variable periods in statics.
    Cow,
    /// `RestartMode` of `restart = …`.
    RestartMode,
    /// `RunOptions` of `main`.
    RunOptions,
    /// `run(options, setup)`: the whole program of `main`.
    Run,
    /// `unit_file(var, default)`: a unit file's path, the environment variable first.
    UnitFile,
    /// `ca_file(var, given)`: the CA file to trust, the environment variable first.
    CaFile,
    /// The linkme crate, for the registration tables.
    Linkme,
    /// `INPUTS`, the table of `#[input]` functions.
    Inputs,
    /// `InputEntry`, one row of it.
    InputEntry,
    /// `OUTPUTS`, the table of `#[output]` functions.
    Outputs,
    /// `OutputEntry`, one row of it.
    OutputEntry,
    /// `MainFlags<MQTT>`, the flags of `main` as a type.
    MainFlags,
    /// `main_has_mqtt::<M>()`, the check `#[input]`/`#[output]` make.
    MainHasMqtt,
    /// `Result`, pepeunit's.
    Result,
    /// `UnitState`, what `#[pepeunit::state]` implements.
    UnitState,
    /// `StoredAs<T>`: where a stored state is kept.
    StoredAs,
    /// `STATES`, the table of `#[state]` types.
    States,
    /// `StateEntry`, one row of it.
    StateEntry,
    /// `make_state::<T>`, a row's constructor.
    MakeState,
    /// `from_unit::<T>(&unit)`, one argument of an output or `main`.
    FromUnit,
    /// `Shared(&state)`: a state taken as `&T`.
    Shared,
    /// `Exclusive(&state)`: a state taken as `&mut T`.
    Exclusive,
    /// `LockAll`: the states of one call, locked in order.
    LockAll,
    /// `State<T>`, the handle.
    State,
}

impl Item {
    fn name(self) -> &'static str {
        match self {
            Item::Client => "PepeunitClient",
            Item::Message => "Message",
            Item::InputHandler => "InputHandler",
            Item::OutputHandler => "OutputHandler",
            Item::ChangeOutput => "ChangeOutput",
            Item::NumericOutput => "NumericOutput",
            Item::Reduce => "Reduce",
            Item::OutputsType => "Outputs",
            Item::Extract => "extract",
            Item::Rejected => "Rejected",
            Item::Period => "Period",
            Item::Duration => "Duration",
            Item::Cow => "Cow",
            Item::RestartMode => "RestartMode",
            Item::RunOptions => "RunOptions",
            Item::Run => "run",
            Item::UnitFile => "unit_file",
            Item::CaFile => "ca_file",
            Item::Linkme => "linkme",
            Item::Inputs => "INPUTS",
            Item::InputEntry => "InputEntry",
            Item::Outputs => "OUTPUTS",
            Item::OutputEntry => "OutputEntry",
            Item::MainFlags => "MainFlags",
            Item::MainHasMqtt => "main_has_mqtt",
            Item::Result => "Result",
            Item::UnitState => "UnitState",
            Item::StoredAs => "StoredAs",
            Item::States => "STATES",
            Item::StateEntry => "StateEntry",
            Item::MakeState => "make_state",
            Item::FromUnit => "from_unit",
            Item::Shared => "Shared",
            Item::Exclusive => "Exclusive",
            Item::LockAll => "LockAll",
            Item::State => "State",
        }
    }

    /// `::pepeunit::__private::NAME`, spanned at the call site.
    pub(crate) fn path(self) -> TokenStream {
        self.spanned(Span::call_site())
    }

    /// `::pepeunit::__private::NAME` with `span`, so that a type error lands on the user's token.
    pub(crate) fn spanned(self, span: Span) -> TokenStream {
        let name = format_ident!("{}", self.name(), span = span);
        quote_spanned!(span=> ::pepeunit::__private::#name)
    }
}
