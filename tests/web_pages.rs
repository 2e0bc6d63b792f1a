//! The status and files pages, and the files API by path, through a real
//! web front: `/status` and `GET /api/status` name the coordinator; a file
//! uploaded through A's web front (`PUT /api/files/{path}` or the page's
//! form) reaches B's folder; a download returns the bytes; locks by path
//! (`POST /api/files/{path}/lock`, `/unlock`, and the page's buttons)
//! belong to the account; path tricks get 400 and strangers 401.

use std::net::SocketAddr;
use std::time::Duration;

use convene_web::client::{HttpClient, HttpResponse};
use serde_json::json;

use crate::util::{
    FAST_ELECTION, SECRET, TestCluster, eventually, files, ready, register, web_files,
};

/// A has the web front and shares `notes.txt`; B shares a folder too.
async fn cluster() -> TestCluster {
    let mut c = TestCluster::bind_full(
        &[web_files("A", "directory_a"), files("B", "directory_b")],
        SECRET,
        FAST_ELECTION,
    )
    .await;
    std::fs::write(c.path("directory_a").join("notes.txt"), "hello notes").unwrap();
    c.start_node("A").await;
    c.start_node("B").await;
    let b = c.path("directory_b");
    eventually(
        Duration::from_secs(15),
        "B to receive A's files",
        || async { ready(b.join("notes.txt").exists(), "no notes.txt") },
    )
    .await;
    c
}

fn web(c: &TestCluster) -> SocketAddr {
    c.cluster.node("A").unwrap().http_addr().unwrap()
}

async fn account(web: SocketAddr, name: &str) -> HttpClient {
    register(web, name).await;
    let mut client = HttpClient::new(web);
    let body = json!({"username": name, "password": "password1"});
    let r = client.post_json("/api/login", &body).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    client
}

pub(crate) fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..at + page[at..].find('"').unwrap()].to_string()
}

fn error_of(r: &HttpResponse) -> String {
    r.json().unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_lists_the_nodes_and_marks_the_coordinator() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    eventually(
        Duration::from_secs(15),
        "a coordinator in GET /api/status",
        || async {
            let body = ada_get(&c).await.json().unwrap();
            ready(body["coordinator"].is_string(), body)
        },
    )
    .await;
    let status = ada_get(&c).await.json().unwrap();
    let coordinator = status["coordinator"].as_str().unwrap().to_string();
    assert!(["A", "B"].contains(&coordinator.as_str()), "{status}");
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    for node in nodes {
        assert_eq!(node["state"], "up", "{status}");
        let services = node["services"].as_array().unwrap();
        assert!(
            services
                .iter()
                .any(|s| s.as_str().unwrap().starts_with("files (")),
            "{status}"
        );
    }
    assert!(
        nodes[0]["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("web :")),
        "{status}"
    );

    let page = ada.get("/status").await.unwrap();
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(
        text.contains(&format!(
            "<strong class=\"coordinator\">{coordinator}</strong>"
        )),
        "{text}"
    );
    assert_eq!(
        text.matches("title=\"the coordinator\"").count(),
        1,
        "{text}"
    );
    for id in ["A", "B"] {
        assert!(
            text.contains(&format!("data-label=\"Node\">{id}")),
            "{text}"
        );
    }
    for href in ["/events", "/booking", "/files", "/status"] {
        assert!(text.contains(&format!("href=\"{href}\"")), "{href}");
    }

    // Without a session: the login page for the page, 401 for the API.
    let mut stranger = HttpClient::new(web(&c));
    let r = stranger.get("/status").await.unwrap();
    assert_eq!(r.status, 303);
    assert!(r.location().unwrap().starts_with("/login"));
    let r = stranger.get("/api/status").await.unwrap();
    assert_eq!(r.status, 401);
    c.stop().await;
}

/// `GET /api/status` as a fresh account session.
async fn ada_get(c: &TestCluster) -> HttpResponse {
    let mut client = HttpClient::new(web(c));
    let body = json!({"username": "ada", "password": "password1"});
    let r = client.post_json("/api/login", &body).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    client.get("/api/status").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_up_down_and_lock_through_the_web_front() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    let b = c.path("directory_b");

    // Upload over the API: it lands in A's folder and syncs to B's.
    let r = ada
        .request("PUT", "/api/files/up/new%20file.txt", &[], b"fresh bytes")
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(c.path("directory_a").join("up/new file.txt").exists());
    eventually(Duration::from_secs(15), "the upload on B", || async {
        let text = std::fs::read(b.join("up/new file.txt")).unwrap_or_default();
        ready(
            text == b"fresh bytes",
            String::from_utf8_lossy(&text).into_owned(),
        )
    })
    .await;

    // Too large for one request: a JSON 413 that says so, nothing written.
    let big = vec![b'x'; (1 << 20) + 1];
    let r = ada
        .request("PUT", "/api/files/big.bin", &[], &big)
        .await
        .unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(error_of(&r).contains("larger than 1 MiB"), "{}", r.text());
    assert!(!c.path("directory_a").join("big.bin").exists());

    // Download.
    let r = ada.get("/api/files/notes.txt").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello notes");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let r = ada.get("/api/files/nothing.txt").await.unwrap();
    assert_eq!(r.status, 404, "{}", r.text());

    // Locks by path, as ada; the old body-style route still works.
    let r = ada
        .request("POST", "/api/files/notes.txt/lock", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let listing = c.node("A").files().handle().listing().await;
    assert_eq!(listing.locked.len(), 1, "{listing:?}");
    assert_eq!(listing.locked[0].as_str(), "notes.txt");
    let mut bob = account(web(&c), "bob").await;
    let r = bob
        .request("POST", "/api/files/notes.txt/unlock", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    let r = ada
        .request("POST", "/api/files/notes.txt/unlock", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = ada
        .post_json("/api/files/lock", &json!({"path": "notes.txt"}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = ada
        .post_json("/api/files/unlock", &json!({"path": "notes.txt"}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    // The page: the listing, then lock and unlock with its buttons.
    let page = ada.get("/files").await.unwrap();
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("href=\"/api/files/notes.txt\""), "{text}");
    assert!(
        text.contains("href=\"/api/files/up/new%20file.txt\""),
        "{text}"
    );
    let csrf = csrf_of(&text);
    let r = ada
        .post_form("/files/lock", &[("csrf", &csrf), ("path", "notes.txt")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("action=\"/files/unlock\""),
        "{}",
        r.text()
    );
    let listing = c.node("A").files().handle().listing().await;
    assert_eq!(listing.locked.len(), 1, "{listing:?}");

    // While ada holds the lock, a change made on A waits at the lock
    // holder (B, the highest priority): the API and the page say whose lock
    // it is and what waits for it, and B's copy stays as it was.
    std::fs::write(c.path("directory_a").join("notes.txt"), "changed on A").unwrap();
    let ada_ref = tokio::sync::Mutex::new(&mut ada);
    eventually(Duration::from_secs(15), "A's change to be held", || async {
        let listing = ada_ref.lock().await.get("/api/files").await.unwrap();
        let files = listing.json().unwrap();
        let notes = files["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "notes.txt")
            .cloned()
            .unwrap_or_default();
        ready(notes["lock"]["held"] == 1, notes.to_string())
    })
    .await;
    let listing = ada.get("/api/files").await.unwrap().json().unwrap();
    let notes = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "notes.txt")
        .unwrap()
        .clone();
    assert_eq!(notes["lock"]["owner"], "ada");
    assert_eq!(notes["lock"]["held_from"], json!(["A"]));
    let page = ada.get("/files").await.unwrap().text();
    assert!(page.contains("by <strong>ada</strong>"), "{page}");
    assert!(page.contains("1 update held, from A"), "{page}");
    assert_eq!(
        std::fs::read_to_string(b.join("notes.txt")).unwrap(),
        "hello notes",
        "held while locked"
    );

    let r = ada
        .post_form("/files/unlock", &[("csrf", "wrong"), ("path", "notes.txt")])
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    let r = ada
        .post_form("/files/unlock", &[("csrf", &csrf), ("path", "notes.txt")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let listing = c.node("A").files().handle().listing().await;
    assert!(listing.locked.is_empty(), "{listing:?}");
    let b_notes = b.join("notes.txt");
    eventually(Duration::from_secs(15), "A's held change on B", || async {
        let text = std::fs::read_to_string(&b_notes).unwrap_or_default();
        ready(text == "changed on A", text)
    })
    .await;

    // The page's upload form (multipart, as a browser sends it).
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"folder\"\r\n\r\nforms\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"page.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nfrom the page\r\n--XyZ--\r\n"
    );
    let r = ada
        .request(
            "POST",
            "/files/upload",
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            body.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Uploaded forms/page.txt"), "{}", r.text());
    eventually(
        Duration::from_secs(15),
        "the page's upload on B",
        || async {
            let text = std::fs::read(b.join("forms/page.txt")).unwrap_or_default();
            ready(
                text == b"from the page",
                String::from_utf8_lossy(&text).into_owned(),
            )
        },
    )
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_tricks_get_400_and_strangers_401() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    let tricks = [
        ("GET", "/api/files/../x"),
        ("GET", "/api/files/..%2Fx"),
        ("GET", "/api/files/a/../../x"),
        ("PUT", "/api/files/%2Fetc%2Fpasswd"),
        ("PUT", "/api/files//etc/passwd"),
        ("PUT", "/api/files/a%00b"),
        ("POST", "/api/files/../x/lock"),
        ("POST", "/api/files/%2Fx/unlock"),
    ];
    for (method, path) in tricks {
        let r = ada.request(method, path, &[], b"evil").await.unwrap();
        assert_eq!(r.status, 400, "{method} {path}: {}", r.text());
        assert!(
            error_of(&r).starts_with("path: "),
            "{method} {path}: {}",
            r.text()
        );
    }
    assert!(!c.path("x").exists());
    let page = ada.get("/files").await.unwrap();
    let csrf = csrf_of(&page.text());
    let r = ada
        .post_form("/files/lock", &[("csrf", &csrf), ("path", "../x")])
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());

    let mut stranger = HttpClient::new(web(&c));
    for (method, path) in [
        ("GET", "/api/files/notes.txt"),
        ("PUT", "/api/files/new.txt"),
        ("POST", "/api/files/notes.txt/lock"),
        ("POST", "/api/files/notes.txt/unlock"),
    ] {
        let r = stranger.request(method, path, &[], b"x").await.unwrap();
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
        assert!(!r.text().contains("hello notes"));
    }
    assert!(!c.path("directory_a").join("new.txt").exists());
    let r = stranger.get("/files").await.unwrap();
    assert_eq!(r.status, 303);
    c.stop().await;
}
