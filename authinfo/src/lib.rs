#![doc = include_str!("../README.md")]

mod client;
mod entry;
mod file;
mod lookup;
mod secret;
pub mod server;

pub use client::{
    AuthOutcome, AuthPolicy, Choice, ClientMechanism, CommandToken, Credentials, DEFAULT_MECHANISMS,
    Disposition, MAX_TOKEN_LEN, Mechanism, SaslError, Selected, StaticToken, Step, TokenError, TokenProvider,
    Transport, choose_mechanism,
};
pub use entry::{AuthEntry, AuthInfoError, MAX_ITEMS, Origin};
pub use file::{AuthInfoFile, FORBIDDEN_MODE, LoadOptions, check_permissions};
pub use lookup::{
    AUTHINFO_FROM_TAG, AUTHINFO_TAG, Found, LookupOptions, LookupRequest, Mode, format_addr, lookup,
};
pub use secret::Secret;
