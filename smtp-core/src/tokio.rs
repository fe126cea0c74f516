//! Thin tokio drivers for the sans-IO sessions (feature `tokio`): they
//! move bytes, run rustls handshakes and sleep until deadlines.

mod client;
mod tls_client;

pub use client::{Destination, deliver};
pub use tls_client::{TlsClient, TlsClientError, TlsClientOptions, TrustAnchors};
