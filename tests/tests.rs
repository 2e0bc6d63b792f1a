//! Convene's integration tests: one test binary (ripgrep's pattern, one link
//! step instead of many), one module per area, a shared fixture in `util`.

// First, for its `on_every_backend!` macro.
#[macro_use]
mod util;

mod backup;
mod booking;
mod booking_cli;
mod booking_failover;
mod booking_kill;
mod booking_live;
mod booking_web;
mod browser;
mod browser_booking;
mod browser_chat;
mod browser_services;
mod chaos;
mod chat;
mod chat_cli;
mod chat_failover;
mod chat_web;
mod cli_errors;
mod cluster_api;
mod election;
mod event_flows;
mod events;
mod events_grid;
mod events_kill;
mod files;
mod files_kill;
mod files_swap;
mod front_doors;
mod impostor;
mod instrument;
mod leave;
mod meet;
mod meet_bad_input;
mod meet_cli;
mod meet_failover;
mod meet_web;
mod metrics;
mod ops;
mod partition_netns;
mod web;
mod web_pages;
