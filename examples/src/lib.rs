#![doc = include_str!("../README.md")]

pub mod makemap;
pub mod map;

mod exit;
mod records;
