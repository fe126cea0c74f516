//! The message content: receiving it after `DATA` or `BDAT`, and preparing
//! it for `DATA` on the client side.
//!
//! Everything here is a byte-level machine without IO: the caller reads the
//! socket and hands the bytes in, in whatever pieces they arrive, and gets the
//! same answer however the stream was split.
//!
//! # Why the end of data is strict
//!
//! In December 2023 (CVE-2023-51764 Postfix, CVE-2023-51765 sendmail,
//! CVE-2023-51766 Exim) "SMTP smuggling" showed what happens when two servers
//! disagree about where a message ends. An outbound relay forwards a body
//! holding `LF . LF` (or `CR LF . LF`, `LF . CR LF`, `CR . CR LF`) untouched,
//! because for it that is data; an inbound server that takes the same bytes
//! as end of data then runs whatever follows as SMTP commands, and an attacker
//! with an account on the relay sends a second message with a spoofed sender
//! that passes SPF and DKIM for the relay's domains.
//!
//! So both directions follow one rule (spec `smtp.md` §5.3):
//!
//! - [`DataReceiver`] ends the data only at `CR LF . CR LF`, and a bare CR or
//!   bare LF anywhere in the content fails the whole message (or, for trusted
//!   networks, becomes CR LF, never end of data).
//! - [`DotStuffer`] and [`dot_stuff`] never put a bare CR or bare LF on the
//!   wire, so a message we relay cannot smuggle anything into a lenient peer.
//! - [`BdatReceiver`] takes length-delimited chunks (RFC 3030), which have no
//!   terminator to confuse; the client prefers BDAT when the server offers it.

mod bdat;
mod receiver;
mod sender;

pub use bdat::{BdatOutcome, BdatProgress, BdatReceiver};
pub use receiver::{BareLineEndings, DataOutcome, DataProgress, DataReceiver};
pub use sender::{DotStuffer, dot_stuff, has_8bit, max_line_len, normalized_size};

const CR: u8 = b'\r';
const LF: u8 = b'\n';

#[cfg(test)]
mod tests;
