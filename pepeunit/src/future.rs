//! The future the object-safe traits return.

/// A boxed, sendable future: what the object-safe traits a unit may implement return
/// ([`HttpClient`](crate::rest::HttpClient), [`MqttTransport`](crate::mqtt::MqttTransport), the
/// platform-command hook), so that no `async-trait` crate is needed.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
