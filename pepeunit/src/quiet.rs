//! The library's own I/O, marked so the `tracing`/`log` bridges leave it out.
//!
//! A log entry the MQTT layer publishes makes rumqttc log (`debug!("Publish. Topic = …")` on every
//! outgoing publish); bridged, that would be a new log entry, published in turn: a loop. So the MQTT
//! driver, the log publisher and the REST client run [`quiet`]: while they are polled a
//! thread-local flag is set, and the bridges drop what is emitted meanwhile. Their chatter is not
//! the unit's either: the library logs what matters about its connections itself. Without a bridge
//! feature [`quiet`] is the future itself.

use std::future::Future;

#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) use marked::{Guard, is_quiet};

/// `future`, polled with the thread marked quiet.
#[cfg(any(feature = "tracing", feature = "log"))]
#[cfg_attr(not(any(feature = "mqtt", feature = "rest")), allow(dead_code))]
pub(crate) fn quiet<F: Future>(future: F) -> impl Future<Output = F::Output> {
    marked::Quiet(Box::pin(future))
}

/// `future` as it is: no bridge is compiled in.
#[cfg(not(any(feature = "tracing", feature = "log")))]
pub(crate) fn quiet<F: Future>(future: F) -> F {
    future
}

#[cfg(any(feature = "tracing", feature = "log"))]
mod marked {
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    thread_local! {
        /// Set while the library's own I/O runs on this thread (or a bridge formats an event).
        static QUIET: Cell<bool> = const { Cell::new(false) };
    }

    /// Whether what is emitted now comes from the library's own I/O (or from a bridge itself).
    pub(crate) fn is_quiet() -> bool {
        QUIET.get()
    }

    /// Marks the thread quiet until dropped (then restores what was before).
    pub(crate) struct Guard(bool);

    impl Guard {
        pub(crate) fn enter() -> Guard {
            Guard(QUIET.replace(true))
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            QUIET.set(self.0);
        }
    }

    /// A future polled under a [`Guard`] (boxed: no pin projection without unsafe code).
    pub(super) struct Quiet<F>(pub(super) Pin<Box<F>>);

    impl<F: Future> Future for Quiet<F> {
        type Output = F::Output;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            let _quiet = Guard::enter();
            self.0.as_mut().poll(cx)
        }
    }
}
