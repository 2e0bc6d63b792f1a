//! The events workload and its check, through the web front's JSON API
//! (`/api/events`), as the seed's web app would use it.
//!
//! An organiser creates an event every second or two on a random node's
//! web front, free 09:00-17:00 on 2030-01-01, with a deadline a few seconds
//! away; two participants answer at once, each on a random front: one is
//! free from a random hour between 09:00 and 12:00 on, the other until a
//! random hour between 14:00 and 17:00. Every subset of answers gives a
//! different common time, so the result says which answers were counted.
//!
//! Once the run is over, every created event must be final, with the same
//! result on every front (stored once), and that result must count every
//! acknowledged answer (200) and no refused one (4xx); an answer with no
//! clear outcome (no answer, 5xx) may be counted or not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use convene_web::client::{HttpClient, HttpResponse};
use serde_json::{Value, json};

use super::rng::Rng;

/// The accounts (registered by the workload), and their password.
const ORGANISER: &str = "organiser";
const PARTICIPANTS: [&str; 2] = ["early", "late"];
const PASSWORD: &str = "chaos-password-13";

/// How long one request may take before it counts as unanswered.
const PATIENCE: Duration = Duration::from_secs(5);

/// `2030-01-01T<hour>:00:00Z`.
fn at(hour: u64) -> String {
    format!("2030-01-01T{hour:02}:00:00Z")
}

/// What happened to an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Acknowledged,
    Refused,
    Unclear,
}

/// One created event and what its participants were told.
#[derive(Debug)]
pub struct Created {
    id: String,
    /// The early participant's start hour, the late one's end hour.
    hours: [u64; 2],
    answers: [Outcome; 2],
}

/// What the workload did.
#[derive(Debug, Default)]
pub struct Tally {
    /// Creations asked for.
    pub asked: u64,
    /// Events created (201 with an id).
    pub created: Vec<Created>,
    /// Answers acknowledged, refused, unclear.
    pub answers: [u64; 3],
}

/// One account's clients, one per web front, logged in when first used.
struct Account {
    name: &'static str,
    fronts: Vec<SocketAddr>,
    clients: Vec<Option<HttpClient>>,
}

impl Account {
    fn new(name: &'static str, fronts: &[SocketAddr]) -> Account {
        Account {
            name,
            fronts: fronts.to_vec(),
            clients: fronts.iter().map(|_| None).collect(),
        }
    }

    /// A request on front `f`; `None` when it did not answer in time (the
    /// connection is dropped then, and the next request logs in anew).
    async fn call(&mut self, f: usize, path: &str, body: Option<&Value>) -> Option<HttpResponse> {
        if self.clients[f].is_none() {
            let mut client = HttpClient::new(self.fronts[f]);
            let login = json!({"username": self.name, "password": PASSWORD});
            let answer =
                tokio::time::timeout(PATIENCE, client.post_json("/api/login", &login)).await;
            match answer {
                Ok(Ok(r)) if r.status == 200 => self.clients[f] = Some(client),
                _ => return None,
            }
        }
        let client = self.clients[f].as_mut().expect("logged in");
        let answer = match body {
            Some(body) => tokio::time::timeout(PATIENCE, client.post_json(path, body)).await,
            None => tokio::time::timeout(PATIENCE, client.get(path)).await,
        };
        match answer {
            Ok(Ok(r)) => {
                if r.status == 401 {
                    self.clients[f] = None;
                }
                Some(r)
            }
            _ => {
                self.clients[f] = None;
                None
            }
        }
    }
}

/// Registers the accounts through front 0 (retrying for up to 30 s).
pub async fn prepare(fronts: &[SocketAddr]) -> anyhow::Result<()> {
    for name in [ORGANISER].iter().chain(&PARTICIPANTS) {
        let body = json!({"username": name, "password": PASSWORD, "time_zone": "UTC"});
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut client = HttpClient::new(fronts[0]);
            match tokio::time::timeout(PATIENCE, client.post_json("/api/register", &body)).await {
                Ok(Ok(r)) if r.status == 201 || r.status == 409 => break,
                other if tokio::time::Instant::now() > deadline => {
                    anyhow::bail!("could not register {name}: {other:?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    Ok(())
}

/// Creates events and answers them until `stop`.
pub async fn worker(fronts: Vec<SocketAddr>, mut rng: Rng, stop: Arc<AtomicBool>) -> Tally {
    let mut tally = Tally::default();
    let mut organiser = Account::new(ORGANISER, &fronts);
    let mut people: Vec<Account> = PARTICIPANTS
        .iter()
        .map(|p| Account::new(p, &fronts))
        .collect();
    let pick = |rng: &mut Rng| rng.below(fronts.len() as u64) as usize;
    while !stop.load(Ordering::Relaxed) {
        let deadline = convene_events::zone::format_rfc3339(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
                + 6,
        );
        let body = json!({
            "name": format!("chaos {}", tally.asked),
            "participants": PARTICIPANTS,
            "deadline": deadline,
            "constraints": [{"start": at(9), "end": at(17)}],
        });
        tally.asked += 1;
        let f = pick(&mut rng);
        let id = match organiser.call(f, "/api/events", Some(&body)).await {
            Some(r) if r.status == 201 => r
                .json()
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string)),
            _ => None,
        };
        if let Some(id) = id {
            let hours = [rng.between(9, 12), rng.between(14, 17)];
            let mut answers = [Outcome::Unclear; 2];
            for (p, person) in people.iter_mut().enumerate() {
                let (start, end) = if p == 0 {
                    (hours[0], 17)
                } else {
                    (9, hours[1])
                };
                let body = json!({"constraints": [{"start": at(start), "end": at(end)}]});
                let path = format!("/api/events/{id}/constraints");
                let f = pick(&mut rng);
                answers[p] = match person.call(f, &path, Some(&body)).await {
                    Some(r) if r.status == 200 => Outcome::Acknowledged,
                    Some(r) if (400..500).contains(&r.status) && r.status != 401 => {
                        Outcome::Refused
                    }
                    _ => Outcome::Unclear,
                };
                tally.answers[match answers[p] {
                    Outcome::Acknowledged => 0,
                    Outcome::Refused => 1,
                    Outcome::Unclear => 2,
                }] += 1;
            }
            tally.created.push(Created { id, hours, answers });
        }
        tokio::time::sleep(Duration::from_millis(rng.between(800, 2000))).await;
    }
    tally
}

/// The check's result.
#[derive(Debug, Default)]
pub struct Checked {
    /// Events final, with one result on every front.
    pub final_once: u64,
    /// Acknowledged answers found counted.
    pub counted: u64,
    /// What is wrong.
    pub violations: Vec<String>,
}

/// The common time of the organiser's 09-17 and the counted answers.
fn common(hours: [u64; 2], counted: [bool; 2]) -> Vec<(String, String)> {
    let start = if counted[0] { hours[0] } else { 9 };
    let end = if counted[1] { hours[1] } else { 17 };
    vec![(at(start), at(end))]
}

/// Waits (at most `patience` in all) for every event to be final, then
/// reads it on every front and compares.
pub async fn check(tally: &Tally, fronts: &[SocketAddr], patience: Duration) -> Checked {
    let mut checked = Checked::default();
    let mut organiser = Account::new(ORGANISER, fronts);
    let give_up = tokio::time::Instant::now() + patience;
    for event in &tally.created {
        let path = format!("/api/events/{}", event.id);
        let mut results = Vec::new();
        let mut f = 0;
        // Final somewhere first (the deadline may be a few seconds away).
        loop {
            if let Some(r) = organiser.call(f % fronts.len(), &path, None).await
                && let Ok(v) = r.json()
                && v["state"] == "final"
            {
                break;
            }
            f += 1;
            if tokio::time::Instant::now() > give_up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        for f in 0..fronts.len() {
            let read = organiser.call(f, &path, None).await;
            let result = read.and_then(|r| r.json().ok()).and_then(|v| {
                (v["state"] == "final").then(|| {
                    v["result"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|i| {
                                    (
                                        i["start"].as_str().unwrap_or("?").to_string(),
                                        i["end"].as_str().unwrap_or("?").to_string(),
                                    )
                                })
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default()
                })
            });
            results.push(result);
        }
        let Some(Some(first)) = results.first().cloned() else {
            checked.violations.push(format!(
                "event {}: not final (read on the first front)",
                event.id
            ));
            continue;
        };
        if results.iter().any(|r| r.as_ref() != Some(&first)) {
            checked.violations.push(format!(
                "event {}: the fronts disagree on its result: {results:?}",
                event.id
            ));
            continue;
        }
        checked.final_once += 1;
        // Which subsets of answers the history allows.
        let options = |o: Outcome| match o {
            Outcome::Acknowledged => vec![true],
            Outcome::Refused => vec![false],
            Outcome::Unclear => vec![false, true],
        };
        let mut allowed = Vec::new();
        for a in options(event.answers[0]) {
            for b in options(event.answers[1]) {
                allowed.push(common(event.hours, [a, b]));
            }
        }
        if allowed.contains(&first) {
            checked.counted += event
                .answers
                .iter()
                .filter(|a| **a == Outcome::Acknowledged)
                .count() as u64;
        } else {
            checked.violations.push(format!(
                "event {}: result {first:?}, but the answers ({:?}, hours {:?}) allow only {allowed:?}",
                event.id, event.answers, event.hours
            ));
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::common;

    #[test]
    fn each_set_of_counted_answers_gives_its_own_common_time() {
        let results: Vec<_> = [[false, false], [true, false], [false, true], [true, true]]
            .into_iter()
            .map(|counted| common([10, 15], counted))
            .collect();
        for (i, a) in results.iter().enumerate() {
            assert!(results[i + 1..].iter().all(|b| a != b), "{results:?}");
        }
        assert_eq!(
            results[3],
            [(
                "2030-01-01T10:00:00Z".to_string(),
                "2030-01-01T15:00:00Z".to_string()
            )]
        );
    }
}
