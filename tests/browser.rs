//! The web app in a real browser: Debian's Chromium, headless, driven
//! through chromedriver's WebDriver protocol. Three users register (each on
//! another node), one creates an event and gives her availability, the
//! others add theirs (one with the "Add interval" button), and after the
//! deadline each sees the common time on the event page, in their own time
//! zone.
//!
//! `Browser` here is what every browser test drives, with
//! [`check_page`](Browser::check_page): what every page must pass at a
//! phone's width, and with `CONVENE_SCREENSHOTS=DIR` a PNG of it.
//!
//! Skipped when chromedriver is not installed, unless
//! `CONVENE_REQUIRE_BROWSER=1` (as `.ci/run` sets), which makes a missing
//! browser a failure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use base64ct::{Base64, Encoding};
use convene_events::zone::Zone;
use convene_web::client::HttpClient;
use serde_json::{Value, json};

use crate::events::{cluster, now, unique};
use crate::util::{eventually, ready};

/// The W3C name of an element reference in WebDriver answers.
pub(crate) const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One browser session.
pub(crate) struct Browser {
    http: HttpClient,
    session: String,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// Ends the session however the test ends, so chromedriver closes the
/// browser (a browser outlives a killed chromedriver). Blocking, as a drop
/// must be: one `DELETE` over a plain socket.
impl Drop for Browser {
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let addr = self.http.addr();
        let Ok(mut socket) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        else {
            return;
        };
        let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            self.session
        );
        if socket.write_all(request.as_bytes()).is_ok() {
            let _ = socket.read_to_end(&mut Vec::new());
        }
    }
}

impl Browser {
    pub(crate) async fn start() -> Option<Browser> {
        if !crate::util::require_browser("browser test") {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Driver(
            std::process::Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let http =
            tokio::sync::Mutex::new(HttpClient::new(SocketAddr::from(([127, 0, 0, 1], port))));
        eventually(Duration::from_secs(20), "chromedriver to start", || async {
            match http.lock().await.get("/status").await {
                Ok(r) if r.status == 200 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        let mut http = http.into_inner();
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=412,915", // a phone's screen
                         format!("--user-data-dir={}", profile.path().display())],
            },
        }}});
        let created = http.post_json("/session", &capabilities).await.unwrap();
        let value = created.json().unwrap();
        let session = value["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {value}"))
            .to_string();
        Some(Browser {
            http,
            session,
            _driver: driver,
            _profile: profile,
        })
    }

    pub(crate) async fn command(&mut self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let bytes = serde_json::to_vec(&body).unwrap();
        let headers = [("content-type", "application/json")];
        let r = self
            .http
            .request(method, &path, &headers, &bytes)
            .await
            .unwrap();
        let value = r.json().unwrap();
        assert_eq!(r.status, 200, "{method} {path}: {value}");
        value["value"].clone()
    }

    pub(crate) async fn go(&mut self, url: String) {
        self.command("POST", "/url", json!({"url": url})).await;
    }

    pub(crate) async fn find(&mut self, using: &str, selector: &str) -> String {
        let found = self
            .command(
                "POST",
                "/element",
                json!({"using": using, "value": selector}),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element for {selector}: {found}"))
            .to_string()
    }

    pub(crate) async fn type_into(&mut self, css: &str, text: &str) {
        let element = self.find("css selector", css).await;
        self.command("POST", &format!("/element/{element}/clear"), json!({}))
            .await;
        self.command(
            "POST",
            &format!("/element/{element}/value"),
            json!({"text": text}),
        )
        .await;
    }

    /// Sets a field's value by script (a date-time field has no keyboard
    /// format a test can rely on); `step = 1` lets it hold seconds.
    pub(crate) async fn set(&mut self, css: &str, index: usize, value: &str) {
        let script = "const e = document.querySelectorAll(arguments[0])[arguments[1]]; \
                      if (!e) { return false; } e.step = 1; e.value = arguments[2]; return true;";
        let done = self
            .command(
                "POST",
                "/execute/sync",
                json!({"script": script, "args": [css, index, value]}),
            )
            .await;
        if done != json!(true) {
            panic!(
                "no field {css} #{index} on {}:\n{}",
                self.url().await,
                self.source().await
            );
        }
    }

    /// Clicks a form's button and waits for the page the form leads to
    /// (a click's answer may come before the browser has left the page).
    pub(crate) async fn click(&mut self, button_text: &str) {
        let xpath = format!("//button[starts-with(normalize-space(), '{button_text}')]");
        self.click_xpath(&xpath, button_text).await;
    }

    /// As [`click`](Browser::click), the element `xpath` finds; `what`
    /// names it in a failure.
    pub(crate) async fn click_xpath(&mut self, xpath: &str, what: &str) {
        let button_text = what;
        let element = self.find("xpath", xpath).await;
        let mark = json!({"script": "window.conveneOld = true;", "args": []});
        self.command("POST", "/execute/sync", mark).await;
        self.command("POST", &format!("/element/{element}/click"), json!({}))
            .await;
        let loaded = json!({"script": "return window.conveneOld !== true && document.readyState === 'complete';", "args": []});
        let what = format!("clicking {button_text:?} to load a page");
        let browser = tokio::sync::Mutex::new(self);
        eventually(Duration::from_secs(10), &what, || async {
            let done = browser
                .lock()
                .await
                .command("POST", "/execute/sync", loaded.clone())
                .await;
            ready(done == json!(true), done)
        })
        .await;
    }

    pub(crate) async fn source(&mut self) -> String {
        self.command("GET", "/source", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub(crate) async fn url(&mut self) -> String {
        self.command("GET", "/url", json!({}))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub(crate) async fn register(&mut self, node: SocketAddr, name: &str, zone: &str) {
        self.go(format!("http://{node}/register")).await;
        self.type_into("#username", name).await;
        self.type_into("#password", "browser-password").await;
        self.set("#time_zone", 0, zone).await;
        self.click("Register").await;
        assert!(
            self.url().await.ends_with("/events"),
            "{}",
            self.source().await
        );
        self.click("Log out").await;
    }

    pub(crate) async fn login(&mut self, node: SocketAddr, name: &str) {
        self.go(format!("http://{node}/login")).await;
        self.type_into("#username", name).await;
        self.type_into("#password", "browser-password").await;
        self.click("Log in").await;
        assert!(
            self.url().await.ends_with("/events"),
            "{}",
            self.source().await
        );
    }

    /// Runs `script` (its `return` value comes back).
    pub(crate) async fn script(&mut self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Checks what every page must do at a phone's width: nothing wider
    /// than the screen, and every field named (a label, or `aria-label`).
    /// Saves a screenshot as `name.png` when asked to.
    pub(crate) async fn check_page(&mut self, name: &str) {
        let fits = self
            .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
            .await;
        assert_eq!(fits, json!(true), "{name} is wider than a phone");
        let unnamed = self
            .script(
                "return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))\
                 .filter(e => !e.closest('label') && !e.getAttribute('aria-label') && \
                   !(e.id && document.querySelector('label[for=\"' + e.id + '\"]')))\
                 .map(e => e.name);",
            )
            .await;
        assert_eq!(unnamed, json!([]), "fields without a label on {name}");
        if let Some(dir) = std::env::var_os("CONVENE_SCREENSHOTS") {
            // The whole page, as tall as it is.
            let height = self
                .script("return document.documentElement.scrollHeight;")
                .await
                .as_u64()
                .unwrap_or(915)
                .clamp(915, 8000);
            // (A window cannot grow past the screen; Chromium's device
            // emulation can, through chromedriver's DevTools passthrough.)
            let metrics = json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": 412, "height": height, "deviceScaleFactor": 1, "mobile": true}});
            self.command("POST", "/goog/cdp/execute", metrics).await;
            let png = self.command("GET", "/screenshot", json!({})).await;
            let clear = json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}});
            self.command("POST", "/goog/cdp/execute", clear).await;
            let bytes = Base64::decode_vec(png.as_str().unwrap_or_default()).unwrap();
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
        }
    }

    /// Presses on `from`, moves across to `to` and lets go, as a person
    /// drags a mouse.
    pub(crate) async fn drag(&mut self, from: &str, to: &str) {
        let (a, b) = (
            self.find("css selector", from).await,
            self.find("css selector", to).await,
        );
        let origin = |e: &str| json!({ ELEMENT: e });
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{
                "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "origin": origin(&a), "x": 0, "y": 0},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerMove", "origin": origin(&b), "x": 0, "y": 0, "duration": 200},
                    {"type": "pointerUp", "button": 0},
                ],
            }]}),
        )
        .await;
        self.command("DELETE", "/actions", json!({})).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_people_find_a_common_hour_in_a_real_browser() {
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    // Three nodes on SQLite, each seeing every event server live.
    let c = cluster("sqlite").await.expect("SQLite needs no server");
    let node = |id: &str| c.node(id).http_addr().unwrap();
    let tag = unique();
    let (ann, ben, cat) = (
        format!("ann{tag}"),
        format!("ben{tag}"),
        format!("cat{tag}"),
    );
    browser.register(node("A"), &ann, "Europe/Rome").await;
    browser.register(node("B"), &ben, "America/New_York").await;
    browser.register(node("C"), &cat, "UTC").await;

    // Ann creates the event on A, her times in Rome's clock.
    browser.login(node("A"), &ann).await;
    browser.go(format!("http://{}/events/new", node("A"))).await;
    browser.type_into("#name", "Launch review").await;
    browser
        .type_into("#participants", &format!("{ben}, {cat}"))
        .await;
    let deadline = now() + 20;
    let rome = Zone::named("Europe/Rome").unwrap();
    let deadline_text = format!("{}:{:02}", rome.to_local_input(deadline), deadline % 60);
    browser.set("#deadline", 0, &deadline_text).await;
    browser
        .set("input[name=start]", 0, "2030-01-15T10:00")
        .await;
    browser.set("input[name=end]", 0, "2030-01-15T18:00").await;
    browser.click("Create event").await;
    let url = browser.url().await;
    let id = url.rsplit('/').next().unwrap().to_string();
    assert!(
        convene_events::ids::is_event_id(&id),
        "not on an event page: {url}\n{}",
        browser.source().await
    );
    browser.click("Log out").await;

    // Ben, on B, in New York: two intervals, the second row from "Add
    // interval", both inside Ann's and Cat's times so each shows in the
    // result (05:00-08:00 and 09:00-11:00 New York are 10:00-13:00 and
    // 14:00-16:00 UTC).
    browser.login(node("B"), &ben).await;
    browser
        .go(format!("http://{}/events/{id}", node("B")))
        .await;
    browser
        .set("input[name=start]", 0, "2030-01-15T05:00")
        .await;
    browser.set("input[name=end]", 0, "2030-01-15T08:00").await;
    browser.click("Add interval").await;
    let rows = browser.source().await.matches("name=\"start\"").count();
    assert!(rows >= 2, "Add interval gave no new row");
    browser
        .set("input[name=start]", 1, "2030-01-15T09:00")
        .await;
    browser.set("input[name=end]", 1, "2030-01-15T11:00").await;
    browser.click("Send my availability").await;
    let page = browser.source().await;
    assert!(page.contains("Your availability was added."), "{page}");
    browser.click("Log out").await;

    // Cat, on C, in UTC.
    browser.login(node("C"), &cat).await;
    browser
        .go(format!("http://{}/events/{id}", node("C")))
        .await;
    browser
        .set("input[name=start]", 0, "2030-01-15T11:00")
        .await;
    browser.set("input[name=end]", 0, "2030-01-15T20:00").await;
    browser.click("Send my availability").await;
    let page = browser.source().await;
    assert!(page.contains("Your availability was added."), "{page}");

    // After the deadline the page shows the common time, both of Ben's
    // pieces: 11:00-13:00 and 14:00-16:00 UTC.
    // (A wait for time to pass: the deadline, which the page shows no
    // sign of before it comes.)
    while now() < deadline + 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let shared = tokio::sync::Mutex::new(&mut browser);
    let page = eventually(
        Duration::from_secs(10),
        "the result on the page",
        || async {
            let mut browser = shared.lock().await;
            browser
                .go(format!("http://{}/events/{id}", node("C")))
                .await;
            let page = browser.source().await;
            if page.contains("Tue 15 Jan 2030, 11:00 – 13:00 (UTC)") {
                Ok(page)
            } else {
                Err(page)
            }
        },
    )
    .await;
    assert!(
        page.contains("Tue 15 Jan 2030, 14:00 – 16:00 (UTC)"),
        "{page}"
    );
    browser.click("Log out").await;
    // Ann sees it on Rome's clock, on another node.
    browser.login(node("B"), &ann).await;
    browser
        .go(format!("http://{}/events/{id}", node("B")))
        .await;
    let page = browser.source().await;
    assert!(
        page.contains("Tue 15 Jan 2030, 12:00 – 14:00 (CET)")
            && page.contains("Tue 15 Jan 2030, 15:00 – 17:00 (CET)"),
        "{page}"
    );
    drop(browser);
    c.stop().await;
}
