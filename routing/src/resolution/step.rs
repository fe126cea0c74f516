//! The trace of a resolution, for logs and `smarthost route --explain`.

use std::fmt;

use crate::aliases::AliasMatch;
use crate::virtuser::VirtuserMatch;
use crate::{Probe, Via};

/// One thing the resolver did, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// FEATURE(redirect) refused `address`: the user moved to `to`.
    Redirect {
        /// The `.REDIRECT` address.
        address: String,
        /// The address to try.
        to: String,
    },
    /// The virtusertable was searched for `address`.
    Virtuser {
        /// The address.
        address: String,
        /// The keys tried (only when explaining).
        probes: Vec<Probe>,
        /// The entry that matched.
        matched: Option<VirtuserMatch>,
    },
    /// The router decided for `address`.
    Routed {
        /// The address.
        address: String,
        /// The rule that decided.
        via: Via,
        /// The mailertable keys tried (only when explaining).
        probes: Vec<Probe>,
    },
    /// The aliases were searched for the local user `user`.
    Alias {
        /// The local part.
        user: String,
        /// The keys tried (only when explaining).
        probes: Vec<Probe>,
        /// The alias that matched.
        matched: Option<AliasMatch>,
    },
    /// The list `alias` has an `owner-` alias: copies are sent from `owner`.
    Owner {
        /// The list.
        alias: String,
        /// The envelope sender for its copies.
        owner: String,
    },
    /// `alias` lists itself: that member is delivered locally.
    SelfReference {
        /// The alias.
        alias: String,
    },
    /// `name` (an alias or `:include:` file) was already expanded.
    Duplicate {
        /// The alias key or `:include:PATH`.
        name: String,
    },
    /// An alias leads back to one being expanded; that member is dropped.
    Loop {
        /// The aliases, the first one repeated at the end.
        chain: Vec<String>,
    },
    /// An `:include:` file was read.
    Include {
        /// The file.
        path: String,
        /// How many members it lists.
        members: usize,
    },
}

impl Step {
    /// The step in words, one line each (a search gives a line per key).
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Virtuser { address, probes, matched } => {
                let mut lines = probe_lines("virtusertable", probes);
                lines.push(match matched {
                    Some(found) => format!(
                        "virtusertable: {address} matches `{}` -> `{}`{}",
                        found.key,
                        found.expanded,
                        if found.value == found.expanded {
                            String::new()
                        } else {
                            format!(" (from `{}`)", found.value)
                        }
                    ),
                    None => format!("virtusertable: no entry for {address}"),
                });
                lines
            }
            Self::Alias { user, probes, matched } => {
                let mut lines = probe_lines("aliases", probes);
                lines.push(match matched {
                    Some(found) => format!("aliases: {user} matches `{}`: {}", found.key, found.value.trim()),
                    None => format!("aliases: no alias for {user}: local delivery"),
                });
                lines
            }
            Self::Routed { probes, .. } => {
                let mut lines: Vec<String> = probes
                    .iter()
                    .map(|probe| {
                        let mut line = match &probe.value {
                            Some(value) => format!("mailertable key `{}`: found `{value}`", probe.key),
                            None => format!("mailertable key `{}`: not found", probe.key),
                        };
                        if let Some(skipped) = &probe.skipped {
                            line.push_str(&format!(", passed over: {skipped}"));
                        }
                        line
                    })
                    .collect();
                lines.push(self.to_string());
                lines
            }
            _ => vec![self.to_string()],
        }
    }
}

fn probe_lines(table: &str, probes: &[Probe]) -> Vec<String> {
    probes
        .iter()
        .map(|probe| match &probe.value {
            Some(value) => format!("{table} key `{}`: found `{value}`", probe.key),
            None => format!("{table} key `{}`: not found", probe.key),
        })
        .collect()
}

impl fmt::Display for Step {
    /// One line; see [`Step::lines`] for the keys tried.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redirect { address, to } => {
                write!(
                    f,
                    "redirect: {address} ends in .REDIRECT (FEATURE(redirect)): the user moved to <{to}>"
                )
            }
            Self::Virtuser { address, matched: Some(found), .. } => {
                write!(f, "virtusertable: {address} matches `{}` -> `{}`", found.key, found.expanded)
            }
            Self::Virtuser { address, matched: None, .. } => {
                write!(f, "virtusertable: no entry for {address}")
            }
            Self::Routed { address, via, .. } => write!(f, "routed: {address} by {}", via_name(via)),
            Self::Alias { user, matched: Some(found), .. } => {
                write!(f, "aliases: {user} matches `{}`: {}", found.key, found.value.trim())
            }
            Self::Alias { user, matched: None, .. } => {
                write!(f, "aliases: no alias for {user}: local delivery")
            }
            Self::Owner { alias, owner } => {
                write!(f, "aliases: {alias} has an owner: copies are sent from {owner}")
            }
            Self::SelfReference { alias } => {
                write!(f, "aliases: {alias} lists itself: delivered locally without aliasing again")
            }
            Self::Duplicate { name } => write!(f, "aliases: {name} was already expanded: duplicate dropped"),
            Self::Loop { chain } => write!(f, "aliases: loop {} cut", chain.join(" -> ")),
            Self::Include { path, members } => write!(f, "include: {path} lists {members} member(s)"),
        }
    }
}

fn via_name(via: &Via) -> String {
    match via {
        Via::Unqualified => "an unqualified address or <postmaster>: local".into(),
        Via::LocalName => "a local name (class w): local".into(),
        Via::LiteralToSmartHost => "a domain literal: the smart host".into(),
        Via::Literal => "a domain literal: that address".into(),
        Via::Mailertable(found) => format!("the mailertable entry `{}` -> `{}`", found.key, found.expanded),
        Via::SmartHost => "the smart host".into(),
        Via::Mx => "the domain's MX records".into(),
    }
}
