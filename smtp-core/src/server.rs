//! The SMTP server session (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
//! SMTPUTF8, ENHANCEDSTATUSCODES, DSN, CHUNKING/BINARYMIME, STARTTLS and
//! AUTH) as a sans-IO state machine: [`ServerSession`].
//!
//! Behaviour follows `shared/spec/smtp.md` §1–§7 and §10, and the AUTH wire
//! protocol of `authinfo.md` §5. The tokio driver (feature `tokio`) only
//! moves bytes and answers questions.

mod auth;
mod command;
mod config;
mod content;
mod hello;
mod mail;
mod path;
mod received;
mod session;
mod types;

pub use config::{
    Ask, AuthConfig, MAX_AUTH_LINE, MAX_COMMAND_LINE, MAX_HELO_NAME, MAX_PIPELINED_INPUT, ServerConfig,
    ServerConfigError, SyntaxMode, TimeoutClamped, TimeoutPhase, Timeouts,
};
pub use path::{ForwardPath, Path, PathError, ReversePath};
pub use received::Protocol;
pub use session::ServerSession;
pub use types::{
    DecisionId, Output, Peer, Question, Recipient, TlsInfo, Transaction, UnexpectedDecision, Verdict,
};
