//! MAIL FROM and RCPT TO.

use crate::params::{Body, MailParams, ParamError, RcptParams};
use crate::replies;
use crate::reply::Reply;
use crate::server::config::SyntaxMode;
use crate::server::path::{ArgError, ForwardPath, ReversePath, split_path_arg};
use crate::server::session::{Pending, ServerSession, Txn};
use crate::server::types::Recipient;

impl ServerSession {
    pub(super) fn handle_mail(&mut self, args: &[u8]) {
        let config = &*self.config;
        let refusal = if self.txn.is_some() {
            Some(if config.sendmail_status_codes {
                replies::SENDMAIL_SENDER_ALREADY_SPECIFIED
            } else {
                replies::SENDER_ALREADY_SPECIFIED
            })
        } else if config.syntax == SyntaxMode::Strict && self.helo.is_none() {
            Some(replies::HELO_FIRST)
        } else if config.require_auth && self.auth.is_none() {
            Some(replies::AUTHENTICATION_REQUIRED)
        } else {
            None
        };
        if let Some(reply) = refusal {
            return self.reply_bad(&reply);
        }
        match self.parse_mail(args) {
            Ok((reverse_path, params)) => {
                self.txn = Some(Box::new(Txn {
                    reverse_path,
                    params,
                    recipients: Vec::new(),
                    queue_id: None,
                    content: Vec::new(),
                    received_len: 0,
                    bdat: None,
                }));
                self.ask(Pending::Mail);
            }
            Err(reply) => self.reply_bad(&reply),
        }
    }

    fn parse_mail(&self, args: &[u8]) -> Result<(ReversePath, MailParams), Reply> {
        let config = &*self.config;
        let arg = split_path_arg(args, "FROM", config.syntax).map_err(|e| match e {
            ArgError::Command => replies::MAIL_SYNTAX,
            ArgError::Encoding => replies::BAD_SENDER_SYNTAX,
        })?;
        let reverse_path = match arg.path {
            None => ReversePath::Null,
            Some(Ok(path)) if !path.is_postmaster() => ReversePath::Mailbox(path),
            Some(_) => return Err(replies::BAD_SENDER_SYNTAX),
        };
        if !arg.params.is_empty() && !self.extended {
            return Err(replies::PARAMETERS_AFTER_HELO);
        }
        let params = if arg.params.is_empty() {
            MailParams::default()
        } else {
            MailParams::parse(arg.params).map_err(|e| e.reply())?
        };
        let unoffered = if params.smtputf8 && !config.smtputf8 {
            Some("SMTPUTF8")
        } else if params.ret.is_some() && !config.dsn {
            Some("RET")
        } else if params.envid.is_some() && !config.dsn {
            Some("ENVID")
        } else {
            None
        };
        if let Some(keyword) = unoffered {
            return Err(ParamError::Unrecognized(keyword.into()).reply());
        }
        if params.body == Some(Body::BinaryMime) && !config.chunking {
            return Err(replies::BINARYMIME_NOT_OFFERED);
        }
        if let ReversePath::Mailbox(path) = &reverse_path
            && path.is_non_ascii()
            && !params.smtputf8
        {
            return Err(replies::NON_ASCII_ADDRESS);
        }
        if let (Some(size), Some(max)) = (params.size, config.max_message_size)
            && size > max
        {
            return Err(replies::MESSAGE_TOO_BIG);
        }
        Ok((reverse_path, params))
    }

    pub(super) fn accept_mail(&mut self, queue_id: Option<String>, reply: Option<&Reply>) {
        let enhanced = self.extended;
        let Some(txn) = &mut self.txn else { return };
        txn.queue_id = queue_id;
        match reply {
            Some(reply) => reply.write_to(&mut self.out, enhanced),
            None => replies::SENDER_OK.write_to(&mut self.out, txn.reverse_path.raw(), enhanced),
        }
    }

    pub(super) fn handle_rcpt(&mut self, args: &[u8]) {
        let Some(txn) = &self.txn else {
            let reply = if self.config.sendmail_status_codes {
                replies::SENDMAIL_NEED_MAIL_BEFORE_RCPT
            } else {
                replies::NEED_MAIL_BEFORE_RCPT
            };
            return self.reply_bad(&reply);
        };
        if txn.bdat.is_some() {
            return self.reply_bad(&replies::DATA_BDAT_MIXED);
        }
        if txn.recipients.len() >= self.config.max_recipients {
            return self.reply(&replies::TOO_MANY_RECIPIENTS);
        }
        match self.parse_rcpt(args, txn.params.smtputf8) {
            Ok(recipient) => {
                if let Some(txn) = &mut self.txn {
                    if txn.recipients.capacity() == 0 {
                        // Lists of a few recipients grow once at most.
                        txn.recipients.reserve_exact(8);
                    }
                    txn.recipients.push(recipient);
                }
                self.ask(Pending::Rcpt);
            }
            Err(reply) => self.reply_bad(&reply),
        }
    }

    fn parse_rcpt(&self, args: &[u8], smtputf8: bool) -> Result<Recipient, Reply> {
        let config = &*self.config;
        let arg = split_path_arg(args, "TO", config.syntax).map_err(|e| match e {
            ArgError::Command => replies::RCPT_SYNTAX,
            ArgError::Encoding => replies::BAD_RECIPIENT_SYNTAX,
        })?;
        let Some(Ok(path)) = arg.path else {
            return Err(replies::BAD_RECIPIENT_SYNTAX);
        };
        if path.is_non_ascii() && !smtputf8 {
            return Err(replies::NON_ASCII_ADDRESS);
        }
        if !arg.params.is_empty() && !self.extended {
            return Err(replies::PARAMETERS_AFTER_HELO);
        }
        let params = if arg.params.is_empty() {
            RcptParams::default()
        } else {
            RcptParams::parse(arg.params).map_err(|e| e.reply())?
        };
        if !config.dsn && params.has_dsn() {
            let keyword = if params.notify.is_some() { "NOTIFY" } else { "ORCPT" };
            return Err(ParamError::Unrecognized(keyword.into()).reply());
        }
        let forward_path =
            if path.is_postmaster() { ForwardPath::Postmaster(path) } else { ForwardPath::Mailbox(path) };
        Ok(Recipient { forward_path, params })
    }

    pub(super) fn accept_rcpt(&mut self, reply: Option<&Reply>) {
        let enhanced = self.extended;
        let recipient = self.txn.as_ref().and_then(|txn| txn.recipients.last());
        match (reply, recipient) {
            (Some(reply), _) => reply.write_to(&mut self.out, enhanced),
            (None, Some(recipient)) => {
                replies::RECIPIENT_OK.write_to(&mut self.out, recipient.forward_path.raw(), enhanced)
            }
            (None, None) => {}
        }
    }
}
