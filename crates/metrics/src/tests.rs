use super::*;

fn line_of<'a>(text: &'a str, starts: &str) -> Option<&'a str> {
    text.lines().find(|line| line.starts_with(starts))
}

#[test]
fn a_finished_request_is_counted_with_its_outcome_and_time() {
    let metrics = Metrics::new();
    metrics.begin("booking", "udp", "book", None).finish("ok");
    metrics.begin("booking", "udp", "book", None).finish("ok");
    metrics
        .begin("booking", "udp", "book", None)
        .finish("refused");
    let text = metrics.encode();
    assert_eq!(
        line_of(
            &text,
            r#"convene_requests_total{service="booking",door="udp",kind="book",outcome="ok"}"#
        ),
        Some(r#"convene_requests_total{service="booking",door="udp",kind="book",outcome="ok"} 2"#)
    );
    assert!(
        line_of(
            &text,
            r#"convene_request_duration_seconds_count{service="booking",door="udp",kind="book"} 3"#
        )
        .is_some(),
        "{text}"
    );
}

#[test]
fn a_request_dropped_unfinished_counts_as_abandoned() {
    let metrics = Metrics::new();
    drop(metrics.begin("chat", "tcp", "message", None));
    assert!(metrics.encode().contains(r#"outcome="abandoned"} 1"#));
}

#[test]
fn a_connection_is_open_until_dropped() {
    let metrics = Metrics::new();
    let first = metrics.connection("chat", "tcp");
    let second = metrics.connection("chat", "tcp");
    drop(first);
    let text = metrics.encode();
    assert!(
        text.contains(r#"convene_connections_open{service="chat",door="tcp"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"convene_connections_total{service="chat",door="tcp"} 2"#),
        "{text}"
    );
    drop(second);
}

#[test]
fn a_mirrored_counter_follows_its_source_and_never_goes_down() {
    let metrics = Metrics::new();
    metrics.mirror("peer", "dropped_forged", 5);
    metrics.mirror("peer", "dropped_forged", 3);
    assert!(
        metrics
            .encode()
            .contains(r#"convene_events_total{service="peer",event="dropped_forged"} 5"#)
    );
}

#[test]
fn scrape_hooks_set_gauges_before_encoding() {
    let metrics = Metrics::new();
    let term = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(7));
    let seen = term.clone();
    metrics.on_scrape(move |m| {
        m.gauge(
            Gauge::ElectionTerm,
            &[],
            seen.load(std::sync::atomic::Ordering::Relaxed),
        );
        m.clear(Gauge::Coordinator);
        m.gauge(Gauge::Coordinator, &[("coordinator", "n3")], 1);
    });
    assert!(metrics.encode().contains("convene_election_term 7"));
    term.store(8, std::sync::atomic::Ordering::Relaxed);
    let text = metrics.encode();
    assert!(text.contains("convene_election_term 8"), "{text}");
    assert!(
        text.contains(r#"convene_election_coordinator{coordinator="n3"} 1"#),
        "{text}"
    );
}

#[test]
fn a_pool_shows_its_idle_and_busy_connections() {
    let metrics = Metrics::new();
    metrics.pool("events", PoolUse { open: 5, idle: 2 });
    let text = metrics.encode();
    assert!(
        text.contains(r#"convene_db_pool_connections{db="events",state="idle"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"convene_db_pool_connections{db="events",state="in_use"} 3"#),
        "{text}"
    );
}
