#![doc = include_str!("../README.md")]

mod config;
pub mod local;

pub use config::{
    AuthConfig, ByteSize, Config, ConfigErrors, INLINE_ORIGIN, ListenMode, Listener, LocalConfig,
    LocalDelivery, Location, LogConfig, LogFormat, MailerConfig, MapsConfig, MasqueradeConfig, PolicyConfig,
    Problem, QueueConfig, RoutingConfig, Severity, SpoolConfig, TlsConfig, format_duration, parse_duration,
};
