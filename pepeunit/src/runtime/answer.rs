//! Inputs that answer: `#[pepeunit::input("limit/pepeunit", publish = "ack/pepeunit")]` publishes
//! what the function returns to an output, as an output function's value is published.

use std::future::Future;
use std::sync::Arc;

use super::declared::{publish, run_blocking};
use super::extract::Rejected;
use super::payload::IntoPayload;
use super::{InputHandler, Message};
use crate::client::PepeunitClient;

impl InputHandler {
    /// [`InputHandler::typed`] whose function's value is published to every topic of
    /// `output_topic[topic_name]` through [`IntoPayload`] (`None`: nothing this time; `Err`: the
    /// handler's failure, nothing published).
    pub fn answering<F, Fut, P>(
        name: impl Into<String>,
        topic_name: impl Into<String>,
        f: F,
    ) -> Self
    where
        F: Fn(PepeunitClient, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<P, Rejected>> + Send + 'static,
        P: IntoPayload,
    {
        let topic_name: Arc<str> = topic_name.into().into();
        InputHandler::typed(name, move |unit, message| {
            let call = f(unit.clone(), message);
            let topic_name = topic_name.clone();
            async move {
                let value = call.await?;
                Ok(publish(&unit, &topic_name, value).await)
            }
        })
    }

    /// [`InputHandler::answering`] for a blocking function, run on tokio's blocking pool.
    pub fn answering_blocking<F, P>(
        name: impl Into<String>,
        topic_name: impl Into<String>,
        f: F,
    ) -> Self
    where
        F: Fn(PepeunitClient, Message) -> Result<P, Rejected> + Send + Sync + 'static,
        P: IntoPayload,
    {
        let (f, topic_name): (_, Arc<str>) = (Arc::new(f), topic_name.into().into());
        InputHandler::typed(name, move |unit, message| {
            let (f, caller, topic_name) = (f.clone(), unit.clone(), topic_name.clone());
            async move {
                let value = match run_blocking(move || f(caller, message)).await {
                    Ok(value) => value?,
                    Err(e) => return Ok(Err(e)),
                };
                Ok(publish(&unit, &topic_name, value).await)
            }
        })
    }
}
