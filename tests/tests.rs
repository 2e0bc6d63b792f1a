//! Convene's integration tests: one test binary (ripgrep's pattern, one link
//! step instead of many), one module per area.
