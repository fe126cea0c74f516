//! EHLO/HELO, the capability list, HELP and STARTTLS.

use std::borrow::Cow;
use std::sync::Arc;

use crate::replies;
use crate::reply::{MAX_REPLY_LINE, Reply};
use crate::server::command::HelloError;
use crate::server::session::{Pending, ServerSession};
use crate::status::EnhancedStatus;

impl ServerSession {
    pub(super) fn handle_hello(&mut self, extended: bool, name: Result<Cow<'_, str>, HelloError>) {
        let name = match name {
            Ok(name) => name,
            Err(HelloError::Missing) if extended => return self.reply_bad(&replies::EHLO_REQUIRES_DOMAIN),
            Err(HelloError::Missing) => return self.reply_bad(&replies::HELO_REQUIRES_DOMAIN),
            Err(HelloError::Invalid) => return self.reply_bad(&replies::INVALID_DOMAIN),
        };
        if self.config.ask.helo {
            self.ask(Pending::Helo { extended, name: name.into() });
        } else {
            self.accept_hello(extended, name.into());
        }
    }

    /// EHLO/HELO accepted: reset the transaction, remember the name, and
    /// answer with the greeting line (and the capabilities for EHLO).
    pub(super) fn accept_hello(&mut self, extended: bool, name: Box<str>) {
        self.txn = None;
        self.extended = extended;
        let config = Arc::clone(&self.config);
        let remote = self.peer.remote.ip();
        let tls = self.peer.tls.is_some();
        let hostname = config.hostname().as_bytes();
        let out = &mut self.out;
        let mark = out.len();
        let separator = if extended { b'-' } else { b' ' };
        let hello = |out: &mut Vec<u8>, name: Option<&str>| {
            out.extend_from_slice(b"250");
            out.push(separator);
            out.extend_from_slice(hostname);
            out.extend_from_slice(b" Hello ");
            if let Some(name) = name {
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
            }
            out.push(b'[');
            replies::push_ip(out, remote);
            out.push(b']');
            if name.is_some() {
                out.extend_from_slice(replies::HELLO_SUFFIX.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        };
        hello(out, Some(&name));
        if out.len() - mark > MAX_REPLY_LINE {
            out.truncate(mark);
            hello(out, None);
        }
        self.helo = Some(name);
        if !extended {
            return;
        }
        let auth = config.auth.as_ref().map(|auth| auth.offered(tls)).unwrap_or_default();
        let mut keywords: [Option<&str>; 12] = [None; 12];
        let mut count = 0;
        let mut add = |keyword: &'static str, on: bool| {
            if on {
                keywords[count] = Some(keyword);
                count += 1;
            }
        };
        add("PIPELINING", true);
        add("SIZE", true);
        add("8BITMIME", true);
        add("SMTPUTF8", config.smtputf8);
        add("ENHANCEDSTATUSCODES", true);
        add("DSN", config.dsn);
        add("CHUNKING", config.chunking);
        add("BINARYMIME", config.chunking);
        add("STARTTLS", config.tls_available && !tls);
        add("AUTH", !auth.is_empty());
        add("HELP", config.help);
        let out = &mut self.out;
        for (index, keyword) in keywords.iter().flatten().enumerate() {
            out.extend_from_slice(if index + 1 == count { b"250 " } else { b"250-" });
            out.extend_from_slice(keyword.as_bytes());
            match *keyword {
                "SIZE" => {
                    if let Some(max) = config.max_message_size {
                        out.push(b' ');
                        replies::push_decimal(out, max);
                    }
                }
                "AUTH" => {
                    for mechanism in &auth {
                        out.push(b' ');
                        out.extend_from_slice(mechanism.name().as_bytes());
                    }
                }
                _ => {}
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    pub(super) fn handle_help(&mut self) {
        if !self.config.help {
            return self.reply(&replies::HELP_NOT_IMPLEMENTED);
        }
        let status = Some(EnhancedStatus::OK);
        // The constant lines have no control characters and fit a line.
        if let Ok(reply) = Reply::multiline(214, status, replies::HELP_LINES) {
            self.reply(&reply);
        }
    }

    pub(super) fn handle_starttls(&mut self, has_parameters: bool) {
        if has_parameters {
            self.reply_bad(&replies::STARTTLS_PARAMETERS);
        } else if !self.config.tls_available || self.peer.tls.is_some() {
            self.reply_bad(&replies::TLS_NOT_AVAILABLE);
        } else if self.txn.is_some() {
            self.reply_bad(&replies::STARTTLS_IN_TRANSACTION);
        } else if self.tls_suspended {
            self.reply(&replies::TLS_TEMPORARILY_UNAVAILABLE);
        } else {
            self.reply(&replies::READY_TO_START_TLS);
            self.begin_tls();
        }
    }
}
