//! Convene's integration tests: one test binary (ripgrep's pattern, one link
//! step instead of many), one module per area, a shared fixture in `util`.

mod booking;
mod booking_cli;
mod chat;
mod chat_cli;
mod chat_failover;
mod election;
mod files;
mod meet;
mod meet_bad_input;
mod meet_cli;
mod util;
