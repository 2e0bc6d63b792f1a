//! The cluster over HTTP: `GET /api/status`, `GET /api/files` and the
//! lock routes answer only accounts and the operator; locks belong to the
//! account that took them (only it, an admin or the operator ends them);
//! locks per account are capped; a full sync queue refuses announcements,
//! which arrive later; and `convene login`, `status` and `files` as
//! processes, as an account and as the operator.

use std::net::SocketAddr;
use std::time::Duration;

use convene_web::client::{HttpClient, HttpResponse};
use convene_web::ops::operator::OperatorKey;
use serde_json::json;

use crate::util::{
    CliUser, FAST_ELECTION, SECRET, TestCluster, eventually, eventually_every, files, ready,
    register, web_files,
};

/// A has the web front and shares `notes.txt` and `todo.txt`; B shares a
/// folder too and, coming second, holds the locks, so every lock request
/// travels from A to B over the peer transport. `root` is an admin.
async fn cluster(limits: &str) -> TestCluster {
    let head = format!("{SECRET}admins = [\"root\"]\n");
    let tail = format!("{FAST_ELECTION}{limits}");
    let mut c = TestCluster::bind_full(
        &[web_files("A", "directory_a"), files("B", "directory_b")],
        &head,
        &tail,
    )
    .await;
    for name in ["notes.txt", "todo.txt", "zebra.txt"] {
        std::fs::write(c.path("directory_a").join(name), name).unwrap();
    }
    c.start_node("A").await;
    c.start_node("B").await;
    let b = c.path("directory_b");
    eventually(
        Duration::from_secs(15),
        "B to receive A's files",
        || async { ready(b.join("zebra.txt").exists(), "no zebra.txt") },
    )
    .await;
    c
}

fn web(c: &TestCluster) -> SocketAddr {
    c.cluster.node("A").unwrap().http_addr().unwrap()
}

/// `name`, registered and logged in over the API (the session cookie).
async fn account(web: SocketAddr, name: &str) -> HttpClient {
    register(web, name).await;
    let mut client = HttpClient::new(web);
    let body = json!({"username": name, "password": "password1"});
    let r = client.post_json("/api/login", &body).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    client
}

fn error_of(r: &HttpResponse) -> String {
    r.json().unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A request signed as the operator with `key`, made at `now_ms`.
async fn as_operator(
    client: &mut HttpClient,
    key: &OperatorKey,
    method: &str,
    path: &str,
    body: &[u8],
    now_ms: i64,
) -> HttpResponse {
    let authorization = key.authorization(method, path, body, now_ms);
    let mut headers = vec![("authorization", authorization.as_str())];
    if method == "POST" {
        headers.push(("content-type", "application/json"));
    }
    client.request(method, path, &headers, body).await.unwrap()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn key_of(c: &TestCluster) -> OperatorKey {
    OperatorKey::new(c.cluster.secret.as_ref().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_401_and_nothing_else() {
    let c = cluster("").await;
    let mut stranger = HttpClient::new(web(&c));
    let json_type = [("content-type", "application/json")];
    /// Method, path, extra headers, body.
    type Try<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, &'a [u8]);
    let tries: Vec<Try> = vec![
        ("GET", "/api/status", vec![], b""),
        ("GET", "/api/files", vec![], b""),
        (
            "POST",
            "/api/files/lock",
            vec![],
            br#"{"path":"notes.txt"}"#,
        ),
        (
            "POST",
            "/api/files/unlock",
            vec![],
            br#"{"index":0,"force":true}"#,
        ),
        // Not even a complaint about the body or its type.
        ("POST", "/api/files/lock", vec![], b"not json"),
        (
            "GET",
            "/api/files",
            vec![("cookie", format!("convene_session={}", "a".repeat(64)))],
            b"",
        ),
        (
            "GET",
            "/api/files",
            vec![("authorization", format!("Bearer {}", "0".repeat(64)))],
            b"",
        ),
        (
            "GET",
            "/api/files",
            vec![("authorization", "Basic YWRhOnB3".to_string())],
            b"",
        ),
    ];
    for (method, path, extra, body) in tries {
        let mut headers: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
        if method == "POST" {
            headers.extend(json_type);
        }
        let r = stranger
            .request(method, path, &headers, body)
            .await
            .unwrap();
        assert_eq!(r.status, 401, "{method} {path} {extra:?}: {}", r.text());
        let body = r.json().unwrap();
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        assert!(!r.text().contains("notes.txt"), "{}", r.text());
    }

    // The operator's credential: another cluster's secret, an old one, a
    // replayed one.
    let other = OperatorKey::new(&convene_cluster::ClusterSecret::generate().unwrap());
    let r = as_operator(&mut stranger, &other, "GET", "/api/files", b"", now_ms()).await;
    assert_eq!(r.status, 401);
    assert!(error_of(&r).contains("does not match: is it this cluster's secret_file?"));
    let key = key_of(&c);
    let r = as_operator(
        &mut stranger,
        &key,
        "GET",
        "/api/files",
        b"",
        now_ms() - 120_000,
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(
        error_of(&r).contains("check the clocks"),
        "{}",
        error_of(&r)
    );
    let at = now_ms();
    let r = as_operator(&mut stranger, &key, "GET", "/api/files", b"", at).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = as_operator(&mut stranger, &key, "GET", "/api/files", b"", at).await;
    assert_eq!(r.status, 401);
    assert_eq!(error_of(&r), "the operator credential was used before");
    // A signed lock request cannot be turned into another file's.
    let signed = key.authorization(
        "POST",
        "/api/files/lock",
        br#"{"path":"todo.txt"}"#,
        now_ms(),
    );
    let r = stranger
        .request(
            "POST",
            "/api/files/lock",
            &[("authorization", &signed), json_type[0]],
            br#"{"path":"notes.txt"}"#,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);

    // Nothing was locked by any of it.
    let listing = c.node("A").files().handle().listing().await;
    assert_eq!(listing.entries.len(), 3);
    assert!(listing.locked.is_empty(), "{listing:?}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_belongs_to_its_account_and_only_it_or_an_admin_ends_it() {
    let c = cluster("").await;
    let web = web(&c);
    let mut ann = account(web, "ann").await;
    let mut ben = account(web, "ben").await;
    let mut root = account(web, "root").await;

    let r = ann.get("/api/files").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let files = r.json().unwrap();
    assert_eq!(files["files"][0]["path"], "notes.txt");
    assert_eq!(files["files"][0]["index"], 0);
    assert_eq!(files["files"][0]["locked"], false);
    assert_eq!(files["missing"], json!([]));

    // By its number in the listing, as the CLI's users count.
    let r = ann
        .post_json("/api/files/lock", &json!({"index": 0}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json().unwrap(),
        json!({"ok": true, "path": "notes.txt", "message": "Locked notes.txt (for 3600 s unless renewed)."})
    );
    c.wait_for_line("B", "Files: notes.txt is locked by ann.")
        .await;
    let r = ben.get("/api/files").await.unwrap();
    assert_eq!(r.json().unwrap()["files"][0]["locked"], true);

    // Ben may neither take it, nor unlock it, nor break it.
    let notes = json!({"path": "notes.txt"});
    let r = ben.post_json("/api/files/lock", &notes).await.unwrap();
    assert_eq!(r.status, 409);
    assert!(error_of(&r).starts_with("cannot lock notes.txt: locked by ann for another "));
    let r = ben.post_json("/api/files/unlock", &notes).await.unwrap();
    assert_eq!(
        (r.status, error_of(&r).as_str()),
        (403, "cannot unlock notes.txt: the lock belongs to ann")
    );
    let force = json!({"path": "notes.txt", "force": true});
    let r = ben.post_json("/api/files/unlock", &force).await.unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        error_of(&r),
        "cannot break the lock on notes.txt: it belongs to ann, and only ann or an admin (admins in the cluster file) may break it"
    );

    // An admin breaks it (a plain unlock tells them how).
    let r = root.post_json("/api/files/unlock", &notes).await.unwrap();
    assert_eq!(r.status, 403);
    assert!(error_of(&r).ends_with("as an admin you may break it with --force"));
    let r = root.post_json("/api/files/unlock", &force).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json().unwrap()["message"],
        "Unlocked notes.txt; 0 held updates applied."
    );

    // The owner unlocks their own; the operator breaks anyone's.
    for _ in 0..2 {
        let r = ann.post_json("/api/files/lock", &notes).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = ann.post_json("/api/files/unlock", &notes).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = ann.post_json("/api/files/unlock", &notes).await.unwrap();
    assert_eq!(
        (r.status, error_of(&r).as_str()),
        (409, "cannot unlock notes.txt: the file is not locked")
    );
    let r = ann.post_json("/api/files/lock", &notes).await.unwrap();
    assert_eq!(r.status, 200);
    let body = serde_json::to_vec(&force).unwrap();
    let mut operator = HttpClient::new(web);
    let r = as_operator(
        &mut operator,
        &key_of(&c),
        "POST",
        "/api/files/unlock",
        &body,
        now_ms(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Requests that name no file, or two ways.
    for (body, status, error) in [
        (
            json!({}),
            400,
            "name the file by \"path\" or by \"index\" (one of them)",
        ),
        (
            json!({"path": "notes.txt", "index": 0}),
            400,
            "name the file by \"path\" or by \"index\" (one of them)",
        ),
        (
            json!({"index": 7}),
            404,
            "no file [7]: the listing has 3 files, [0] to [2]",
        ),
        (
            json!({"path": "notes.txt", "force": true}),
            400,
            "\"force\" applies to unlock only",
        ),
    ] {
        let r = ann.post_json("/api/files/lock", &body).await.unwrap();
        assert_eq!((r.status, error_of(&r).as_str()), (status, error), "{body}");
    }
    let r = ann
        .post_json("/api/files/lock", &json!({"path": "../etc/passwd"}))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_locks_per_account() {
    let c = cluster("[limits]\nlocks_per_account = 2\n").await;
    let web = web(&c);
    let mut ann = account(web, "ann").await;
    let mut ben = account(web, "ben").await;
    let lock = |name: &str| json!({"path": name});
    for name in ["notes.txt", "todo.txt"] {
        let r = ann.post_json("/api/files/lock", &lock(name)).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = ann
        .post_json("/api/files/lock", &lock("zebra.txt"))
        .await
        .unwrap();
    assert_eq!(r.status, 409);
    assert_eq!(
        error_of(&r),
        "cannot lock zebra.txt: ann already holds 2 locks, the most one account may hold"
    );
    // Renewing is not a new lock; another account has its own count.
    let r = ann
        .post_json("/api/files/lock", &lock("notes.txt"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = ben
        .post_json("/api/files/lock", &lock("zebra.txt"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // An unlock frees a place.
    let r = ann
        .post_json("/api/files/unlock", &lock("todo.txt"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = ben
        .post_json("/api/files/unlock", &lock("zebra.txt"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = ann
        .post_json("/api/files/lock", &lock("zebra.txt"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_queue_refuses_announcements_and_they_arrive_later() {
    // A sync queue of one, and A's sync task busy fetching a large file
    // from B when a burst of changes on B is announced to it.
    let tail = format!("{FAST_ELECTION}[limits]\nsync_queue = 1\n");
    let mut c = TestCluster::bind_full(
        &[files("A", "directory_a"), files("B", "directory_b")],
        "",
        &tail,
    )
    .await;
    c.start_node("A").await;
    c.start_node("B").await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    // Written aside and moved in, so each is whole when the watcher sees it.
    let staging = c.path("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let big: Vec<u8> = (0..64 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(staging.join("big.bin"), &big).unwrap();
    let names: Vec<String> = (0..30).map(|i| format!("burst-{i:02}.txt")).collect();
    for name in &names {
        std::fs::write(staging.join(name), name).unwrap();
    }
    std::fs::rename(staging.join("big.bin"), b.join("big.bin")).unwrap();
    let every = Duration::from_millis(1);
    eventually_every(
        every,
        Duration::from_secs(15),
        "A to begin fetching big.bin",
        || async {
            let begun = std::fs::read_dir(&a).unwrap().flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with(".convene-tmp-")
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            });
            ready(begun, "no temporary file with content")
        },
    )
    .await;
    for name in &names {
        std::fs::rename(staging.join(name), b.join(name)).unwrap();
    }
    eventually(
        Duration::from_secs(60),
        "the burst to arrive at A",
        || async {
            let missing: Vec<&String> = names
                .iter()
                .filter(|n| std::fs::read_to_string(a.join(n)).ok().as_deref() != Some(n.as_str()))
                .collect();
            ready(missing.is_empty(), format!("missing {missing:?}"))
        },
    )
    .await;
    assert_eq!(std::fs::read(a.join("big.bin")).unwrap(), big);
    let refused = c.node("A").files().handle().busy_refusals();
    assert!(
        refused > 0,
        "A's queue never filled: the test proves nothing"
    );
    c.stop().await;
}

fn url(web: SocketAddr) -> String {
    format!("http://{web}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convene_login_then_files_and_status_as_an_account() {
    let c = cluster("").await;
    let web = web(&c);
    let server = url(web);
    let ann = CliUser::new();

    // Not logged in: the client says what to do (no demo cluster here).
    let ran = ann.run(&["files", "ls"], "").await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr
            .contains("not logged in: run `convene login --server URL` first"),
        "{}",
        ran.stderr
    );

    // A wrong password stores nothing.
    register(web, "ann").await;
    let ran = ann
        .run(&["login", "--server", &server], "ann\nwrong password\n")
        .await;
    assert_eq!(ran.code, Some(1), "{}", ran.stdout);
    assert_eq!(
        ran.stderr,
        format!("convene login: {server}: wrong user name or password\n")
    );
    assert!(!ann.credentials().exists());

    let ran = ann
        .run(&["login", "--server", &server], "ann\npassword1\n")
        .await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(ran.stdout, format!("Logged in to {server} as ann.\n"));
    let stored = std::fs::read_to_string(ann.credentials()).unwrap();
    assert!(!stored.contains("password1"), "{stored}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ann.credentials())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    let ran = ann.run(&["files", "ls"], "").await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", ran.stdout);
    assert!(lines[0].starts_with("[0] notes.txt 9B "), "{}", ran.stdout);
    let ran = ann.run(&["files", "lock", "0"], "").await;
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (Some(0), "Locked notes.txt (for 3600 s unless renewed).\n"),
        "{}",
        ran.stderr
    );
    let ran = ann.run(&["files", "ls", "--server", &server], "").await;
    assert!(
        ran.stdout.starts_with("[0] notes.txt 9B ")
            && ran.stdout.lines().next().unwrap().ends_with(" <locked>"),
        "{}",
        ran.stdout
    );

    let ran = ann.run(&["status"], "").await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("coordinator: B (priority 2)"),
        "{}",
        ran.stdout
    );
    for id in ["A", "B"] {
        assert!(
            ran.stdout
                .lines()
                .any(|l| l.starts_with(id) && l.contains(" up ") && l.ends_with("A, B")),
            "{}",
            ran.stdout
        );
    }

    // The coordinator holds the majority's leases, under its term: a `*`
    // on its line only.
    let asker = &ann;
    let deciding = eventually(
        Duration::from_secs(10),
        "B to hold authority",
        || async move {
            let ran = asker.run(&["status"], "").await;
            let term_of = |id: &str| {
                ran.stdout
                    .lines()
                    .find(|l| l.starts_with(id))
                    .and_then(|l| l.split_whitespace().nth(4))
                    .map(str::to_string)
            };
            match (term_of("A"), term_of("B")) {
                (Some(a), Some(b)) if b.ends_with('*') && !a.ends_with('*') => Ok(b),
                _ => Err(ran.stdout),
            }
        },
    )
    .await;
    assert!(
        deciding.trim_end_matches('*').parse::<u64>().is_ok(),
        "{deciding}"
    );

    // Another account may not end ann's lock.
    let ben = CliUser::new();
    ben.log_in(web, "ben").await;
    let ran = ben.run(&["files", "unlock", "0"], "").await;
    assert_eq!(ran.code, Some(1));
    assert_eq!(
        ran.stderr,
        "convene files: cannot unlock notes.txt: the lock belongs to ann\n"
    );

    // Ben logs out: the session ends on the server too.
    let token = token_of(&ben);
    let ran = ben.run(&["logout"], "").await;
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (Some(0), format!("Logged out of {server} (ben).\n").as_str())
    );
    let mut old = HttpClient::new(web);
    let bearer = format!("Bearer {token}");
    let r = old
        .request("GET", "/api/files", &[("authorization", &bearer)], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let ran = ben.run(&["files", "ls"], "").await;
    assert!(ran.stderr.contains("not logged in"), "{}", ran.stderr);

    // Ann's session ended elsewhere (a logout in her browser): told to log in again.
    let mut browser = HttpClient::new(web);
    browser.set_cookie("convene_session", Some(&token_of(&ann)));
    let r = browser.post_json("/api/logout", &json!({})).await.unwrap();
    assert_eq!(r.status, 200);
    let ran = ann.run(&["files", "ls"], "").await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("did not accept the login of ann"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains(&format!("run `convene login --server {server}` again")),
        "{}",
        ran.stderr
    );
    c.stop().await;
}

/// The session token `user`'s credentials file holds.
fn token_of(user: &CliUser) -> String {
    let text = std::fs::read_to_string(user.credentials()).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    let servers = value["servers"].as_table().unwrap();
    let (_, login) = servers.iter().next().unwrap();
    login["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_uses_the_cluster_files_secret() {
    let c = cluster("").await;
    let config = c.write_bound_config();
    let config = config.to_str().unwrap();
    let operator = CliUser::new();

    let ran = operator.run(&["status", "--config", config], "").await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("coordinator: B (priority 2)"),
        "{}",
        ran.stdout
    );
    let ran = operator.run(&["files", "ls", "--config", config], "").await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.starts_with("[0] notes.txt 9B "),
        "{}",
        ran.stdout
    );
    let ran = operator
        .run(&["files", "lock", "1", "--config", config], "")
        .await;
    assert_eq!(
        ran.stdout, "Locked todo.txt (for 3600 s unless renewed).\n",
        "{}",
        ran.stderr
    );
    c.wait_for_line("B", "Files: todo.txt is locked by (operator).")
        .await;

    // Another secret: refused, saying what to check.
    let dir = tempfile::tempdir().unwrap();
    let bound = std::fs::read_to_string(config).unwrap();
    let wrong = dir.path().join("wrong.toml");
    convene_cluster::ClusterSecret::create_file(&dir.path().join("other.secret")).unwrap();
    let other = bound
        .lines()
        .skip(1)
        .fold("secret_file = \"other.secret\"\n".to_string(), |t, l| {
            t + l + "\n"
        });
    std::fs::write(&wrong, other).unwrap();
    let ran = operator
        .run(&["files", "ls", "--config", wrong.to_str().unwrap()], "")
        .await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("refused the operator credential from"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("is it this cluster's secret_file?"),
        "{}",
        ran.stderr
    );

    // No secret, or no web front: said so.
    let no_secret = dir.path().join("no-secret.toml");
    std::fs::write(
        &no_secret,
        bound.lines().skip(1).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let ran = operator
        .run(&["status", "--config", no_secret.to_str().unwrap()], "")
        .await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("names no secret_file"),
        "{}",
        ran.stderr
    );
    let no_web = dir.path().join("no-web.toml");
    let text: String = bound
        .lines()
        .filter(|l| !l.starts_with("http_port"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&no_web, text).unwrap();
    let ran = operator
        .run(&["status", "--config", no_web.to_str().unwrap()], "")
        .await;
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("has an http_port"), "{}", ran.stderr);
    c.stop().await;
}
