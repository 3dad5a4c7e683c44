//! Unit state: values a unit keeps between handler calls, declared instead of kept in statics.
//!
//! A type marked [`#[pepeunit::state]`](macro@crate::state) (or implementing [`UnitState`] by hand) has one
//! value per client, made with `Default` at start (or at the first [`PepeunitClient::state`](crate::client::PepeunitClient::state)). Handlers
//! take it as `&T`/`&mut T` (sync functions: locked for the call, several in one fixed order) or as a
//! [`State<T>`] handle (any function: each call locks only inside itself, never across an `.await`).
//! Stored states (`#[pepeunit::state(stored)]`, feature `rest`) are loaded from the unit's state
//! storage and saved back when they change (`stored.rs`).
//!
//! Here: the trait, the handle and the per-client table; the locking of several states for one call
//! in `lock.rs`; what handler arguments are made from the unit in `argument.rs`; the macros' table of
//! declared states in `registry.rs`.

mod argument;
mod lock;
#[cfg(any(feature = "mqtt", feature = "rest"))]
pub(crate) mod registry;
#[cfg(feature = "rest")]
mod stored;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
#[cfg(feature = "rest")]
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use argument::{FromUnit, from_unit};
pub use lock::{Exclusive, LockAll, Lockable, Shared, StateMut, StateRef};
#[cfg(feature = "rest")]
pub(crate) use stored::StoredStates;
#[cfg(feature = "rest")]
pub use stored::{Storable, StoredAs};

/// A type whose one value per unit the handlers share: what `#[pepeunit::state]` implements.
///
/// Implement it by hand (`impl UnitState for Counter {}`) for a unit built without the macros; a
/// stored state sets [`UnitState::STORED`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a unit state",
    label = "not declared with `#[pepeunit::state]`",
    note = "declare it: `#[pepeunit::state] #[derive(Default)] struct {Self} {{ … }}`; handlers take unit states as \
            `&{Self}`, `&mut {Self}` or `State<{Self}>`"
)]
pub trait UnitState: Default + Send + 'static {
    /// Where the value is kept in the unit's state storage; `None` (the default): not kept.
    #[cfg(feature = "rest")]
    const STORED: Option<StoredAs<Self>> = None;
}

/// A cheap handle on one unit state (clone it freely): each method locks the value only for its own
/// call, so an `async fn` can hold it across `.await`s.
pub struct State<T> {
    slot: Arc<Slot<T>>,
}

impl<T> State<T> {
    /// A copy of the value.
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.slot.lock().clone()
    }

    /// Replaces the value.
    pub fn set(&self, value: T) {
        *self.slot.lock() = value;
        self.slot.changed();
    }

    /// Changes the value in place and returns what `f` returns.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let result = f(&mut self.slot.lock());
        self.slot.changed();
        result
    }

    /// Reads the value without copying it, and returns what `f` returns.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.slot.lock())
    }
}

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State {
            slot: self.slot.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for State<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&*self.slot.lock()).finish()
    }
}

/// One state's value, its place in the lock order and, for a stored one, whom to tell of a change.
struct Slot<T> {
    value: Mutex<T>,
    /// Functions taking several states lock them by ascending ordinal, so none can deadlock another.
    ordinal: usize,
    /// Set by the first change of a stored state: from then on its value, not what was stored, is
    /// the one to save.
    #[cfg(feature = "rest")]
    changed: AtomicBool,
    /// Wakes the saver of stored states; `None` for a state that is not stored.
    #[cfg(feature = "rest")]
    saver: Option<Arc<tokio::sync::Notify>>,
}

impl<T> Slot<T> {
    /// The value; a handler that panicked while holding it leaves it as it was at the panic.
    fn lock(&self) -> MutexGuard<'_, T> {
        self.value.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called after every mutable access: a stored state is due to be saved.
    fn changed(&self) {
        #[cfg(feature = "rest")]
        if let Some(saver) = &self.saver {
            self.changed.store(true, Ordering::Release);
            saver.notify_one();
        }
    }
}

/// The unit states of one client, by type: units built by hand, several in one process, each have
/// their own.
#[derive(Default)]
pub(crate) struct States {
    slots: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    #[cfg(feature = "rest")]
    pub(crate) stored: Arc<StoredStates>,
}

impl States {
    /// The handle on `T`'s value, made with `Default` the first time.
    pub(crate) fn get<T: UnitState>(&self) -> State<T> {
        let slot = match self.find::<T>() {
            Some(slot) => slot,
            // `Default` runs outside the table's lock: it may itself ask for a state.
            None => self.insert(T::default()),
        };
        State { slot }
    }

    fn find<T: UnitState>(&self) -> Option<Arc<Slot<T>>> {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.get(&TypeId::of::<T>()).cloned().map(downcast)
    }

    fn insert<T: UnitState>(&self, value: T) -> Arc<Slot<T>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(&TypeId::of::<T>()) {
            return downcast(slot.clone());
        }
        let slot = Arc::new(Slot {
            value: Mutex::new(value),
            ordinal: slots.len(),
            #[cfg(feature = "rest")]
            changed: AtomicBool::new(false),
            #[cfg(feature = "rest")]
            saver: T::STORED.as_ref().map(|_| self.stored.saver()),
        });
        slots.insert(TypeId::of::<T>(), slot.clone());
        #[cfg(feature = "rest")]
        if let Some(stored) = T::STORED {
            self.stored.add(slot.clone(), stored);
        }
        slot
    }
}

/// The slot under `TypeId::of::<T>()`, which is always a `Slot<T>`.
fn downcast<T: UnitState>(slot: Arc<dyn Any + Send + Sync>) -> Arc<Slot<T>> {
    slot.downcast::<Slot<T>>()
        .unwrap_or_else(|_| unreachable!("the slot of a TypeId holds that type"))
}
