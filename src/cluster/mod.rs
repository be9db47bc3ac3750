//! Distributed runs: one manager and several worker processes, one report.
//!
//! The manager (`dashload run … --workers`) splits the plan ([`share`]), starts
//! the workers together, judges the stress ladder on their merged windows and
//! writes one run folder; each worker (`dashload worker`) runs its share as an
//! ordinary run of its own and uploads its raw files. See the book's
//! docs/src/distributed.md and /work/shared/DISTRIBUTED.md §4 for the design.

pub mod adopt;
pub mod auth;
pub mod channel;
pub mod manager;
pub mod merge;
pub mod missing;
pub mod protocol;
pub mod share;
pub mod tls;
pub mod token;
pub mod upload;
pub mod worker;
