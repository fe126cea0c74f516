#![doc = include_str!("../README.md")]

pub mod makemap;
pub mod map;
pub mod queue;

mod exit;
mod records;
