//! Support for Floe's end-to-end tests: in-process servers on ephemeral
//! ports and the two sqllogictest drivers (in-process and PG wire).

pub mod render;
pub mod slt;
pub mod support;
