#![doc = include_str!("../README.md")]

mod build;
mod cdb;
mod compiled;
mod error;
mod map;
mod map_type;
mod reload;
mod source;
mod text;

pub use build::{BuildReport, DEFAULT_MODE, MapBuilder};
pub use compiled::{CompiledMap, Records};
pub use error::{Error, IoAction};
pub use map::{ContentHash, Map};
pub use map_type::{MapType, UnknownMapType};
pub use reload::{MapGeneration, ReloadingMap, open_map};
pub use source::{
    Diagnostic, DiagnosticKind, Duplicates, Entry, LINE_BUFFER, Severity, Source, SourceOptions,
};
pub use text::TextMap;
