//! The `tracing` bridge: a tracing-subscriber [`Layer`] writing events into the unit logger.

use std::fmt::{self, Write};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use super::bridge::Bridge;
use crate::client::PepeunitClient;
use crate::error::Result;
use crate::log_level::LogLevel;
use crate::quiet::{Guard, is_quiet};

/// Writes `tracing` events at or above `PU_MIN_LOG_LEVEL` into a unit's logger (see [the module
/// docs](super) for levels, text and what is left out). Add it to a subscriber built on
/// `tracing_subscriber::registry()`, or let [`install_layer`] make it the global one.
pub struct PepeunitLayer {
    bridge: Bridge,
}

impl std::fmt::Debug for PepeunitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PepeunitLayer").finish_non_exhaustive()
    }
}

/// A layer writing into `unit`'s logger; starts its writer thread.
pub fn layer(unit: &PepeunitClient) -> Result<PepeunitLayer> {
    Ok(PepeunitLayer {
        bridge: Bridge::start(unit, "tracing")?,
    })
}

/// Makes `registry().with(layer(unit))` the process's global subscriber; `false` (and nothing
/// started) when one is set already.
pub fn install_layer(unit: &PepeunitClient) -> Result<bool> {
    if tracing_core::dispatcher::has_been_set() {
        return Ok(false);
    }
    let subscriber = tracing_subscriber::registry().with(layer(unit)?);
    Ok(tracing_core::dispatcher::set_global_default(subscriber.into()).is_ok())
}

/// The unit log level of a `tracing` level.
fn level_of(level: Level) -> LogLevel {
    match level {
        Level::TRACE | Level::DEBUG => LogLevel::Debug,
        Level::INFO => LogLevel::Info,
        Level::WARN => LogLevel::Warning,
        Level::ERROR => LogLevel::Error,
    }
}

/// A span's fields as text (`a=1 b=2`), kept in its extensions.
struct SpanFields(String);

impl<S> Layer<S> for PepeunitLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let _quiet = Guard::enter();
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(SpanFields(fields.all()));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let _quiet = Guard::enter();
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(SpanFields(text)) => push(text, format_args!("{}", fields.all())),
            None => extensions.insert(SpanFields(fields.all())),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let level = level_of(*event.metadata().level());
        if is_quiet() || !self.bridge.wants(level) {
            return;
        }
        // Formatting runs the fields' Debug impls: whatever they emit is not bridged.
        let _quiet = Guard::enter();
        let mut text = String::new();
        for span in ctx
            .event_scope(event)
            .into_iter()
            .flat_map(|s| s.from_root())
        {
            text.push_str(span.name());
            if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>()
                && !fields.is_empty()
            {
                let _ = write!(text, "{{{fields}}}");
            }
            text.push(':');
        }
        if !text.is_empty() {
            text.push(' ');
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let _ = write!(text, "{}: {}", event.metadata().target(), fields.message);
        if !fields.others.is_empty() {
            push(&mut text, format_args!("{}", fields.others));
        }
        self.bridge.offer(level, text);
    }
}

/// An event's or span's fields: the `message` apart, the others as `key=value`.
#[derive(Default)]
struct Fields {
    message: String,
    others: String,
}

impl Fields {
    /// Every field as text, the message first.
    fn all(self) -> String {
        let mut text = self.message;
        if !self.others.is_empty() {
            push(&mut text, format_args!("{}", self.others));
        }
        text
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            push(&mut self.others, format_args!("{}={value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            push(&mut self.others, format_args!("{}={value:?}", field.name()));
        }
    }
}

/// Appends `value` to `text`, after a space unless `text` is empty.
fn push(text: &mut String, value: fmt::Arguments<'_>) {
    if !text.is_empty() {
        text.push(' ');
    }
    // Writing to a String cannot fail.
    let _ = text.write_fmt(value);
}
