#![doc = include_str!("../README.md")]

mod data;
pub mod dsn;
mod params;
mod reply;
mod status;
mod xtext;

pub use data::{
    BareLineEndings, BdatOutcome, BdatProgress, BdatReceiver, DataOutcome, DataProgress, DataReceiver,
    DotStuffer, dot_stuff, has_8bit, max_line_len, normalized_size,
};
pub use params::{Body, MAX_ENVID, MAX_PARAMETERS, MailParams, Notify, Orcpt, ParamError, RcptParams, Ret};
pub use reply::{
    MAX_PARSED_LINE, MAX_PARSED_LINES, MAX_REPLY_LINE, ParsedReply, Reply, ReplyError, ReplyParseError,
    parse_reply,
};
pub use status::{EnhancedStatus, InvalidStatus};
pub use xtext::{XtextError, is_xtext, xtext_decode, xtext_encode};
