//! The states a sync function takes as `&T`/`&mut T`, locked for its call. A function taking several
//! locks them by ascending ordinal (the order the unit's states were made in), whatever the order of
//! its arguments: two functions can never each hold one state while waiting for the other's.

use std::ops::{Deref, DerefMut};
use std::sync::MutexGuard;

use super::State;

/// A state taken as `&T`.
pub struct Shared<'a, T>(pub &'a State<T>);

/// A state taken as `&mut T`.
pub struct Exclusive<'a, T>(pub &'a State<T>);

/// `&T` for the call.
pub struct StateRef<'a, T>(MutexGuard<'a, T>);

/// `&mut T` for the call; a change of a stored state is saved when it ends.
pub struct StateMut<'a, T> {
    guard: MutexGuard<'a, T>,
    state: &'a State<T>,
}

/// One state to lock for a call.
pub trait Lockable {
    /// What the function's argument borrows from.
    type Guard;
    /// Its place in the lock order.
    fn ordinal(&self) -> usize;
    /// Locks it.
    fn lock(&self) -> Self::Guard;
}

impl<'a, T> Lockable for Shared<'a, T> {
    type Guard = StateRef<'a, T>;

    fn ordinal(&self) -> usize {
        self.0.slot.ordinal
    }

    fn lock(&self) -> StateRef<'a, T> {
        StateRef(self.0.slot.lock())
    }
}

impl<'a, T> Lockable for Exclusive<'a, T> {
    type Guard = StateMut<'a, T>;

    fn ordinal(&self) -> usize {
        self.0.slot.ordinal
    }

    fn lock(&self) -> StateMut<'a, T> {
        StateMut {
            guard: self.0.slot.lock(),
            state: self.0,
        }
    }
}

impl<T> Deref for StateRef<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Deref for StateMut<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for StateMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for StateMut<'_, T> {
    fn drop(&mut self) {
        self.state.slot.changed();
    }
}

/// The states of one call, locked in the fixed order: a tuple of [`Shared`] and [`Exclusive`].
pub trait LockAll {
    /// The guards, in the tuple's order.
    type Guards;
    /// Locks every state by ascending ordinal. Panics (the handler's failure, logged) when one
    /// state is in the tuple twice: it would wait for itself.
    fn lock_all(self) -> Self::Guards;
}

/// The order to lock the states of one call in: `(ordinal, index in the call)`, ascending.
fn lock_order<const N: usize>(mut order: [(usize, usize); N]) -> [(usize, usize); N] {
    order.sort_unstable();
    if order.windows(2).any(|pair| pair[0].0 == pair[1].0) {
        panic!("one unit state is taken twice by one function: it would wait for itself");
    }
    order
}

macro_rules! lock_all {
    ($($L:ident $index:tt),+) => {
        impl<$($L: Lockable),+> LockAll for ($($L,)+) {
            type Guards = ($($L::Guard,)+);

            fn lock_all(self) -> Self::Guards {
                let mut guards = ($(None::<$L::Guard>,)+);
                for (_, index) in lock_order([$((self.$index.ordinal(), $index)),+]) {
                    match index {
                        $($index => guards.$index = Some(self.$index.lock()),)+
                        _ => unreachable!("an index of the tuple"),
                    }
                }
                // ok: `lock_order` holds every index of the tuple once, so each guard was set above
                ($(guards.$index.expect("every state was locked"),)+)
            }
        }
    };
}

lock_all!(A 0);
lock_all!(A 0, B 1);
lock_all!(A 0, B 1, C 2);
lock_all!(A 0, B 1, C 2, D 3);
lock_all!(A 0, B 1, C 2, D 3, E 4);
lock_all!(A 0, B 1, C 2, D 3, E 4, F 5);
lock_all!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
lock_all!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::unit_state::{States, UnitState};

    #[derive(Default)]
    struct First(u64);
    impl UnitState for First {}

    #[derive(Default)]
    struct Second(u64);
    impl UnitState for Second {}

    #[test]
    fn states_are_locked_by_ordinal_whatever_the_argument_order() {
        assert_eq!(lock_order([(1, 0), (0, 1)]), [(0, 1), (1, 0)]);
        assert_eq!(
            lock_order([(0, 0), (2, 1), (1, 2)]),
            [(0, 0), (1, 2), (2, 1)]
        );
    }

    #[test]
    #[should_panic(expected = "taken twice")]
    fn one_state_twice_is_refused_before_it_waits_for_itself() {
        let states = States::default();
        let first = states.get::<First>();
        let _ = (Shared(&first), Exclusive(&first)).lock_all();
    }

    /// Two threads taking the same two states in opposite argument orders: with both locked by
    /// ordinal neither can hold one while waiting for the other, so both finish every call.
    #[test]
    fn opposite_argument_orders_never_deadlock() {
        let states = Arc::new(States::default());
        let (first, second) = (states.get::<First>(), states.get::<Second>());
        let forward = std::thread::spawn({
            let (first, second) = (first.clone(), second.clone());
            move || {
                for _ in 0..20_000 {
                    let (mut a, mut b) = (Exclusive(&first), Exclusive(&second)).lock_all();
                    a.0 += 1;
                    b.0 += 1;
                }
            }
        });
        for _ in 0..20_000 {
            let (mut b, a) = (Exclusive(&second), Shared(&first)).lock_all();
            b.0 += (*a).0 % 2;
        }
        forward.join().unwrap();
        assert_eq!(first.read(|first| first.0), 20_000);
    }
}
