#![doc = include_str!("../README.md")]

mod data;
mod reply;
mod status;

pub use data::{
    BareLineEndings, BdatOutcome, BdatProgress, BdatReceiver, DataOutcome, DataProgress, DataReceiver,
    DotStuffer, dot_stuff, has_8bit, max_line_len, normalized_size,
};
pub use reply::{
    MAX_PARSED_LINE, MAX_PARSED_LINES, MAX_REPLY_LINE, ParsedReply, Reply, ReplyError, ReplyParseError,
    parse_reply,
};
pub use status::{EnhancedStatus, InvalidStatus};
