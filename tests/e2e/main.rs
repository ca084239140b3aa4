//! Floe's end-to-end tests, in one binary: SQL logic tests run in process
//! and over the PG wire protocol, and client-level tests over real sockets.

mod pg_wire;
mod pg_wire_fuzz;
mod sql_logic;
