#![doc = include_str!("../README.md")]

mod client;
mod data;
pub mod date;
pub mod dsn;
mod params;
pub mod replies;
mod reply;
mod server;
mod status;
#[cfg(feature = "tokio")]
pub mod tokio;
mod xtext;

pub use client::{
    CONNECTION_FAILURE, Capabilities, ClientAuth, ClientConfig, ClientConfigError, ClientLimits,
    ClientOutput, ClientSession, ClientTimeouts, Envelope, FailureKind, MessageId, MessageResult, Phase,
    RecipientResult, TlsPolicy, status_for,
};
pub use data::{
    BareLineEndings, BdatOutcome, BdatProgress, BdatReceiver, DataOutcome, DataProgress, DataReceiver,
    DotStuffer, dot_stuff, has_8bit, max_line_len, normalized_size,
};
pub use params::{Body, MAX_ENVID, MAX_PARAMETERS, MailParams, Notify, Orcpt, ParamError, RcptParams, Ret};
pub use reply::{
    MAX_PARSED_LINE, MAX_PARSED_LINES, MAX_REPLY_LINE, ParsedReply, Reply, ReplyError, ReplyParseError,
    parse_reply,
};
pub use server::{
    Ask, AuthConfig, DecisionId, ForwardPath, MAX_AUTH_LINE, MAX_COMMAND_LINE, MAX_HELO_NAME,
    MAX_PIPELINED_INPUT, Output, Path, PathError, Peer, Protocol, Question, Recipient, ReversePath,
    ServerConfig, ServerConfigError, ServerSession, SyntaxMode, TimeoutClamped, TimeoutPhase, Timeouts,
    TlsInfo, Transaction, UnexpectedDecision, Verdict,
};
pub use status::{EnhancedStatus, InvalidStatus};
pub use xtext::{XtextError, is_xtext, xtext_decode, xtext_encode};
