//! Thin tokio drivers for the sans-IO sessions (feature `tokio`): they move
//! bytes between a `TcpStream` and a session, run the TLS handshakes with
//! tokio-rustls, sleep until deadlines and put questions to a policy. No
//! protocol logic lives here.

mod client;
mod server;
mod tls_client;
mod tls_server;

pub use client::{Destination, deliver, deliver_each};
pub use server::{ServerPolicy, ServerTls, serve_connection};
pub use tls_client::{TlsClient, TlsClientError, TlsClientOptions, TrustAnchors};
pub use tls_server::{TlsConfigError, server_tls_config};
