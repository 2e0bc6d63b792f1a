//! The demo cluster: a main node and two backends with the EE450 sample
//! availability, on loopback, written out as an ordinary cluster file so a
//! newcomer can read and edit what they are running.

use std::path::{Path, PathBuf};

const CLUSTER: &str = include_str!("demo/cluster.toml");
const A_TXT: &str = include_str!("demo/a.txt");
const B_TXT: &str = include_str!("demo/b.txt");

/// Where `convene up` keeps the demo, relative to the working directory.
pub const DEMO_DIR: &str = "convene-data/demo";

/// The demo's main node, where `convene meet` connects by default.
pub const DEMO_SERVER: &str = "127.0.0.1:24092";

/// The demo main node's chat port, where `convene chat` connects by default.
pub const DEMO_CHAT_SERVER: &str = "127.0.0.1:4444";

/// Writes the demo cluster file, its secret and availability files into
/// `dir` (keeping any the user has already edited) and returns the cluster
/// file's path.
pub fn write_demo(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    // Readable by its owner only; never replaced, since every node of a
    // cluster must hold the same one.
    convene_cluster::ClusterSecret::create_file(&dir.join("cluster.secret"))?;
    for (name, text) in [
        ("cluster.toml", CLUSTER),
        ("a.txt", A_TXT),
        ("b.txt", B_TXT),
    ] {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, text)?;
        }
    }
    for (folder, name, text) in DEMO_FILES {
        let folder = dir.join(folder);
        if !folder.exists() {
            std::fs::create_dir_all(&folder)?;
            std::fs::write(folder.join(name), text)?;
        }
    }
    Ok(dir.join("cluster.toml"))
}

/// The shared folders of the demo's files nodes, each with one file to list.
const DEMO_FILES: [(&str, &str, &str); 2] = [
    ("directory_a", "welcome.txt", "Shared by node A.\n"),
    ("directory_b", "notes.txt", "Shared by node B.\n"),
];

/// The demo's people: name, time zone. Their password is [`DEMO_PASSWORD`].
const DEMO_PEOPLE: [(&str, &str); 3] = [
    ("ada", "Europe/Rome"),
    ("bob", "America/New_York"),
    ("cy", "UTC"),
];

/// The demo accounts' password.
pub const DEMO_PASSWORD: &str = "convene-demo";

/// Writes the demo's events data once: three accounts and, when they are
/// new, one event whose deadline is ten minutes away, answered by ada (who
/// created it) and bob; cy has not answered yet. Run again, it finds the
/// accounts and leaves everything as it is.
pub async fn seed_events(events: &convene_events::Events) -> anyhow::Result<()> {
    use convene_events::db::User;
    use convene_events::service::NewEventRequest;
    use convene_events::zone::Zone;
    use convene_events::{Availability, Interval};

    if events.db().user(DEMO_PEOPLE[0].0).await?.is_some() {
        return Ok(());
    }
    let passwords = convene_web::password::Passwords::new();
    for (name, zone) in DEMO_PEOPLE {
        let password_hash = passwords.hash(DEMO_PASSWORD.to_string()).await?;
        let user = User {
            name: name.into(),
            password_hash,
            time_zone: zone.into(),
        };
        events.db().create_user(&user).await?;
    }
    // Tomorrow, in each person's own clock.
    let now = jiff::Timestamp::now();
    let tomorrow = now.to_zoned(jiff::tz::TimeZone::UTC).date().tomorrow()?;
    let slot = |zone: &str, from: &str, to: &str| -> anyhow::Result<Availability> {
        let zone = Zone::named(zone)?;
        let start = zone.parse_local(&format!("{tomorrow}T{from}"))?;
        let end = zone.parse_local(&format!("{tomorrow}T{to}"))?;
        Ok(Availability::from_iter([Interval::new(start, end)?]))
    };
    let id = events
        .create(NewEventRequest {
            name: "Demo: team lunch".into(),
            description: "Written by convene up. Log in as cy to answer before the deadline."
                .into(),
            creator: "ada".into(),
            participants: vec!["bob".into(), "cy".into()],
            deadline: now.as_second() + 600,
            availability: Some(slot("Europe/Rome", "11:00", "14:30")?),
        })
        .await?;
    events
        .submit(&id, "bob", slot("America/New_York", "06:00", "09:00")?)
        .await?;
    Ok(())
}

/// What `convene up` prints before the nodes' own lines.
pub fn banner(cluster_file: &Path) -> String {
    format!(
        "Convene demo cluster: main node M (meet clients on {DEMO_SERVER}, booking clients on UDP 127.0.0.1:2222), backends A and B; chat on TCP 4444 (M), 4445 (A), 4446 (B).\n\
         Cluster file: {}\n\
         In another terminal, try:\n  \
           convene meet eliana jameson kinsley   (one query)\n  \
           convene meet                          (the interactive EE450 client)\n  \
           convene book query --facility \"Meeting Room A\" --days 0,1\n  \
           convene book                          (the booking seed's interactive menu)\n  \
           convene chat --identity Adel          (the CS4262 chat client, on M)\n  \
           convene files ls                      (every node's shared files, one list)\n  \
           convene status                        (who is up, who coordinates)\n\
         Events web app: http://127.0.0.1:8080 (also :8081, :8082); log in as ada, bob or cy, password {DEMO_PASSWORD}.\n\
         Stop with Ctrl-C.\n",
        cluster_file.display()
    )
}
