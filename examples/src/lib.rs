#![doc = include_str!("../README.md")]

pub mod authinfo;
pub mod makemap;
pub mod map;
pub mod policy;
pub mod queue;
pub mod route;

mod exit;
mod json;
mod records;
