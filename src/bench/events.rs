//! `convene bench events`: the events service's three targets.
//!
//! - **Submissions**: constraint submissions per second through the JSON
//!   API, with N users each on its own keep-alive connection, spread over
//!   the three nodes' web fronts (and so over the three event servers).
//! - **Finalization**: an event with 10,000 participants who have all
//!   answered; the time from its deadline until its result is stored, as a
//!   reader polling the database sees it.
//! - **Page render**: p50/p99 of the event page and the "my events" page,
//!   requested one after another by a logged-in user over loopback (so the
//!   numbers include the HTTP exchange and the database reads).
//!
//! Three nodes run in this process on port 0, on a SQLite file in a
//! temporary directory, or on `--database-url`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use convene_cluster::Screen;
use convene_events::db::{EventState, User};
use convene_events::service::NewEventRequest;
use convene_events::zone::now_seconds;
use convene_events::{Availability, Events, Interval};
use convene_node::RunningNode;
use convene_web::client::HttpClient;
use serde_json::json;

use super::stats::{machine, quantile};

pub struct EventsBench {
    pub users: usize,
    pub seconds: f64,
    pub participants: usize,
    pub renders: usize,
    pub database_url: Option<String>,
}

pub fn run(b: &EventsBench) -> anyhow::Result<()> {
    println!(
        "events service, 3 nodes in one process; machine: {}",
        machine()
    );
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut toml = String::new();
        if let Some(url) = &b.database_url {
            toml.push_str(&format!("database_url = \"{url}\"\n"));
        }
        for id in ["E1", "E2", "E3"] {
            toml.push_str(&format!(
                "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = 0\nhttp_port = 0\n"
            ));
        }
        toml.push_str(&bench_limits(b));
        let path = dir.path().join("cluster.toml");
        std::fs::write(&path, toml)?;
        let screen = Screen::discard();
        let (_, nodes) =
            convene_node::start_all(convene_node::load_cluster(&path)?, |_| screen.clone()).await?;
        let storage = b.database_url.as_deref().unwrap_or("SQLite (one file)");
        println!("storage: {storage}");
        let result = measure(&nodes, b).await;
        convene_node::stop_all(nodes).await;
        result
    })
}

/// The cluster's `[limits]`: the benchmark is one client on one address
/// that registers and logs in every user, puts them all in one event, and
/// (for the finalization) creates an event of `participants` people. The
/// limits that guard against strangers would stop it, and are not what
/// it measures.
fn bench_limits(b: &EventsBench) -> String {
    let people = b.users.max(b.participants) + 1;
    let attempts = u32::try_from(people.saturating_mul(2)).unwrap_or(u32::MAX);
    format!(
        "[limits]\nlogins_per_minute_per_ip = {attempts}\nregistrations_per_hour_per_ip = {attempts}\n\
         participants_per_event = {people}\n"
    )
}

async fn measure(nodes: &[RunningNode], b: &EventsBench) -> anyhow::Result<()> {
    let addrs: Vec<_> = nodes.iter().filter_map(|n| n.http_addr()).collect();
    let events: Vec<Events> = nodes.iter().filter_map(|n| n.events().cloned()).collect();
    if addrs.len() != 3 || events.len() != 3 {
        bail!("the nodes did not start their web fronts");
    }
    wait_all_live(nodes).await?;
    let run = format!("{:x}", now_nanos() % 0xffff_ffff);

    // Users, through the API (each registration hashes a password).
    let mut clients = Vec::with_capacity(b.users);
    let mut names = Vec::with_capacity(b.users);
    for i in 0..b.users {
        let name = format!("u{i}-{run}");
        let mut client = HttpClient::new(addrs[i % 3]);
        let credentials = json!({"username": name, "password": "bench-password"});
        expect(
            client.post_json("/api/register", &credentials).await?,
            201,
            "register",
        )?;
        expect(
            client.post_json("/api/login", &credentials).await?,
            200,
            "login",
        )?;
        clients.push(client);
        names.push(name);
    }
    let deadline = rfc3339(now_seconds() + 3600);
    let create = json!({
        "name": "Benchmark", "description": "", "participants": names, "deadline": deadline,
        "constraints": [{"start": "2030-01-01T08:00:00Z", "end": "2030-01-01T18:00:00Z"}],
    });
    let created = clients[0].post_json("/api/events", &create).await?;
    let created = expect(created, 201, "create")?;
    let id = created.json()?["id"].as_str().context("no id")?.to_string();

    if b.seconds > 0.0 {
        submissions(&mut clients, &id, b.seconds).await?;
    }
    if b.renders > 0 {
        renders(&mut clients[0], &id, b.renders).await?;
    }
    if b.participants > 0 {
        finalization(&events, b.participants, &run).await?;
    }
    Ok(())
}

async fn submissions(clients: &mut Vec<HttpClient>, id: &str, seconds: f64) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let path = format!("/api/events/{id}/constraints");
    let body =
        json!({"constraints": [{"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T17:00:00Z"}]});
    let users = clients.len();
    let mut tasks = Vec::new();
    for mut client in clients.drain(..) {
        let (stop, path, body) = (stop.clone(), path.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                let response = client.post_json(&path, &body).await?;
                if response.status != 200 {
                    bail!(
                        "submission refused: {} {}",
                        response.status,
                        response.text()
                    );
                }
                latencies.push(start.elapsed().as_micros() as u64);
            }
            Ok((client, latencies))
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let mut all = Vec::new();
    for task in tasks {
        let (client, latencies) = task.await??;
        clients.push(client);
        all.extend(latencies);
    }
    all.sort_unstable();
    let ms = |q| quantile(&all, q).unwrap_or_default() as f64 / 1000.0;
    println!(
        "submissions: {users} users over 3 web fronts, {} accepted in {elapsed:.1} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms",
        all.len(),
        all.len() as f64 / elapsed,
        ms(0.5),
        ms(0.99)
    );
    Ok(())
}

async fn renders(client: &mut HttpClient, id: &str, n: usize) -> anyhow::Result<()> {
    for (label, path) in [
        ("event page", format!("/events/{id}")),
        ("my events", "/events".to_string()),
    ] {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            let page = client.get(&path).await?;
            samples.push(start.elapsed().as_micros() as u64);
            expect(page, 200, label)?;
        }
        samples.sort_unstable();
        let ms = |q| quantile(&samples, q).unwrap_or_default() as f64 / 1000.0;
        println!(
            "page render, {label} ({n} requests, one after another): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(0.5),
            ms(0.99),
            ms(1.0)
        );
    }
    Ok(())
}

async fn finalization(events: &[Events], participants: usize, run: &str) -> anyhow::Result<()> {
    let db = events[0].db().clone();
    let names: Vec<String> = (0..participants).map(|i| format!("p{i}-{run}")).collect();
    for name in &names {
        let user = User {
            name: name.clone(),
            password_hash: "$argon2id$bench".into(),
            time_zone: "UTC".into(),
        };
        db.create_user(&user).await?;
    }
    fn window(i: usize) -> Availability {
        const DAY: i64 = 1_893_456_000; // 2030-01-01T00:00Z
        let start = DAY + 3600 * (i % 4) as i64;
        Availability::from_iter([Interval::new(start, DAY + 20 * 3600).expect("a valid interval")])
    }
    // Time to answer for everyone, then the deadline.
    let deadline = now_seconds() + 5 + (participants / 2000) as i64;
    let id = events[0]
        .create(NewEventRequest {
            name: "Everyone".into(),
            description: String::new(),
            creator: names[0].clone(),
            participants: names[1..].to_vec(),
            deadline,
            availability: Some(window(0)),
        })
        .await?;
    let submitting = Instant::now();
    let chunks: Vec<Vec<(usize, String)>> = names
        .iter()
        .cloned()
        .enumerate()
        .skip(1)
        .collect::<Vec<_>>()
        .chunks(participants.div_ceil(64).max(1))
        .map(<[_]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for (c, chunk) in chunks.into_iter().enumerate() {
        let via = events[c % events.len()].clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for (i, name) in chunk {
                via.submit(&id, &name, window(i)).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let answered = submitting.elapsed();
    if now_seconds() >= deadline {
        bail!("answering took {answered:?}, past the deadline; rerun with fewer participants");
    }
    let deadline_at = UNIX_EPOCH + Duration::from_secs(deadline as u64);
    while SystemTime::now() < deadline_at {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let result = loop {
        let event = events[1].event(&id).await?;
        if event.state == EventState::Final {
            break event.result.unwrap_or_default();
        }
        if SystemTime::now() > deadline_at + Duration::from_secs(30) {
            bail!("no result 30 s after the deadline");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let took = SystemTime::now()
        .duration_since(deadline_at)
        .unwrap_or_default();
    println!(
        "finalization: {participants} participants, all answered ({:.1} s to submit), result {} interval(s) stored {:.1} ms after the deadline (polled every 1 ms)",
        answered.as_secs_f64(),
        result.as_slice().len(),
        took.as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn wait_all_live(nodes: &[RunningNode]) -> anyhow::Result<()> {
    let give_up = Instant::now() + Duration::from_secs(10);
    for node in nodes {
        let live = node.membership().live();
        while live.borrow().len() < nodes.len() {
            if Instant::now() > give_up {
                bail!("the nodes did not see each other");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

fn expect(
    response: convene_web::client::HttpResponse,
    status: u16,
    what: &str,
) -> anyhow::Result<convene_web::client::HttpResponse> {
    if response.status != status {
        bail!("{what}: {} {}", response.status, response.text());
    }
    Ok(response)
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

fn rfc3339(seconds: i64) -> String {
    convene_events::zone::format_rfc3339(seconds)
}
