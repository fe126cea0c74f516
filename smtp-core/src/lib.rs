#![doc = include_str!("../README.md")]

pub mod dsn;
mod reply;
mod status;

pub use reply::{
    MAX_PARSED_LINE, MAX_PARSED_LINES, MAX_REPLY_LINE, ParsedReply, Reply, ReplyError, ReplyParseError,
    parse_reply,
};
pub use status::{EnhancedStatus, InvalidStatus};
