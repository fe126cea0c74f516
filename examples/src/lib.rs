#![doc = include_str!("../README.md")]

pub mod authinfo;
pub mod config;
pub mod makemap;
pub mod map;
pub mod newaliases;
pub mod policy;
pub mod queue;
pub mod rewrite;
pub mod route;
pub mod sendmail;
pub mod serve;

mod exit;
mod host;
mod json;
mod records;
mod toml_keys;
