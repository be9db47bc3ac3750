//! What the users send: Toggl time entries and their line protocol, Grafana
//! dashboards and the panel queries they expand to.

pub mod generate;
pub mod line_protocol;
pub mod macros;
pub mod toggl;
