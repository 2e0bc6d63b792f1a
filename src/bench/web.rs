//! `convene bench web`: how long every page of the web app takes, as a
//! logged-in person sees it (the HTTP exchange over loopback included).
//!
//! The demo cluster (`convene up`'s: a main node, two backends with the
//! EE450 sample users, four facilities, two shared folders, chat on every
//! node) runs in this process on port 0, with the demo's accounts and
//! event, one event of the bench user's still open (its page carries the
//! availability grid) and one final (its page carries the result's
//! actions). Each page is then asked for N times, one request after
//! another on one keep-alive connection, and the p50, p99 and worst times
//! are printed. The target (issue 14) is a p99 under 20 ms for every page.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use convene_cluster::Screen;
use convene_web::client::HttpClient;
use serde_json::json;

use super::stats::{machine, quantile};

/// The ports of the demo's cluster file, each set to 0 for the bench.
const PORT_KEYS: [&str; 5] = [
    "peer_port",
    "client_port",
    "booking_port",
    "chat_port",
    "http_port",
];

pub fn run(renders: usize) -> anyhow::Result<()> {
    println!(
        "web pages, the demo cluster in one process; machine: {}",
        machine()
    );
    let dir = tempfile::tempdir()?;
    let path = crate::demo::write_demo(dir.path())?;
    let text = std::fs::read_to_string(&path)?;
    let text: String = text
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            if PORT_KEYS.contains(&key) {
                format!("{key} = 0\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(&path, text)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let screen = Screen::discard();
        let (_, nodes) =
            convene_node::start_all(convene_node::load_cluster(&path)?, |_| screen.clone()).await?;
        let result = measure(&nodes, renders).await;
        convene_node::stop_all(nodes).await;
        result
    })
}

async fn measure(nodes: &[convene_node::RunningNode], renders: usize) -> anyhow::Result<()> {
    let main = nodes.first().context("no nodes")?;
    let web = main.http_addr().context("the main node has no web front")?;
    let events = main.events().context("no events service")?;
    crate::demo::seed_events(events).await?;
    let mut client = HttpClient::new(web);
    let login = json!({"username": "ada", "password": crate::demo::DEMO_PASSWORD});
    let r = client.post_json("/api/login", &login).await?;
    if r.status != 200 {
        bail!("logging in as ada: {} {}", r.status, r.text());
    }
    let event = |deadline: i64| {
        json!({
            "name": "Bench review",
            "participants": ["bob"],
            "deadline": convene_events::zone::format_rfc3339(deadline),
            "constraints": [{"start": "2030-03-04T09:00:00Z", "end": "2030-03-04T12:00:00Z"}],
        })
    };
    let now = convene_events::zone::now_seconds();
    let open = created(&mut client, &event(now + 3600)).await?;
    let done = created(&mut client, &event(now + 2)).await?;
    let patience = Instant::now() + Duration::from_secs(30);
    loop {
        let r = client.get(&format!("/api/events/{done}")).await?;
        if r.json()?["state"] == "final" {
            break;
        }
        if Instant::now() > patience {
            bail!("the short event did not become final within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pages = [
        ("my events", "/events".to_string()),
        ("an open event (grid)", format!("/events/{open}")),
        ("a final event (actions)", format!("/events/{done}")),
        ("booking", "/booking".to_string()),
        ("meet", "/meet?users=khloe,kinsley".to_string()),
        ("chat", "/chat".to_string()),
        ("files", "/files".to_string()),
        ("status", "/status".to_string()),
    ];
    println!("{renders} requests per page, one after another, one connection:");
    let mut worst: f64 = 0.0;
    for (label, path) in pages {
        let mut samples = Vec::with_capacity(renders);
        for _ in 0..renders {
            let start = Instant::now();
            let page = client.get(&path).await?;
            samples.push(start.elapsed().as_micros() as u64);
            if page.status != 200 {
                bail!("{label} ({path}): {}", page.status);
            }
        }
        samples.sort_unstable();
        let ms = |q| quantile(&samples, q).unwrap_or_default() as f64 / 1000.0;
        worst = worst.max(ms(0.99));
        println!(
            "  {label:<26} p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
            ms(0.5),
            ms(0.99),
            ms(1.0)
        );
    }
    println!(
        "slowest p99: {worst:.2} ms (target: under 20 ms) {}",
        if worst < 20.0 { "met" } else { "NOT met" }
    );
    Ok(())
}

async fn created(client: &mut HttpClient, body: &serde_json::Value) -> anyhow::Result<String> {
    let r = client.post_json("/api/events", body).await?;
    if r.status != 201 {
        bail!("creating an event: {} {}", r.status, r.text());
    }
    Ok(r.json()?["id"].as_str().context("no event id")?.to_string())
}
