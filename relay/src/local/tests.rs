//! Unit tests and property tests of local delivery's formats.
