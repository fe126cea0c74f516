#![doc = include_str!("../README.md")]

mod config;
mod engine;
mod host;
mod inbound;
pub mod local;
mod lock;
pub mod log;
mod outbound;
mod selfsigned;
mod tables;

pub use config::{
    AuthConfig, ByteSize, Config, ConfigErrors, INLINE_ORIGIN, ListenMode, Listener, LocalConfig,
    LocalDelivery, Location, LogConfig, LogFormat, MailerConfig, MapsConfig, MasqueradeConfig, PolicyConfig,
    Problem, QueueConfig, RoutingConfig, Severity, SpoolConfig, TlsConfig, format_duration, parse_duration,
};
pub use engine::{CONTROL_SOCKET, Relay, StartError, request_queue_run};
pub use log::Log;
pub use tables::{LoadError, Tables};
