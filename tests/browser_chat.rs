//! The chat page in a real browser (Debian's Chromium through chromedriver,
//! at a phone's width): a message typed on `/chat` reaches a TCP chat
//! client (the client `convene chat` is made of) and its answer shows on
//! the page; a room on another server is joined from the room list, and the
//! page chats there. Skipped without chromedriver, as `tests/browser.rs`.

use std::time::Duration;

use convene_chat::client::ChatSession;
use convene_chat::{ClientMessage, ServerMessage};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::chat_web::{owner_of_room, tcp_until};
use crate::events::unique;
use crate::util::{FAST_ELECTION, NodeSpec, TestCluster, eventually, plain, ready};

const WAIT: Duration = Duration::from_secs(15);

/// Runs `script` with `args` in the page; its `return` value.
async fn run(browser: &mut Browser, script: &str, args: Value) -> Value {
    browser
        .command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
}

/// Clicks the element `xpath` finds: a button the page's script handles,
/// so no new page loads.
async fn press(browser: &mut Browser, xpath: &str) {
    let element = browser.find("xpath", xpath).await;
    browser
        .command("POST", &format!("/element/{element}/click"), json!({}))
        .await;
}

/// Waits until the text of the element `css` contains `wanted`.
async fn shows(browser: &mut Browser, css: &str, wanted: &str) {
    let shared = tokio::sync::Mutex::new(browser);
    let what = format!("{css} to show {wanted:?}");
    eventually(WAIT, &what, || async {
        let text = run(
            *shared.lock().await,
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            json!([css]),
        )
        .await;
        let text = text.as_str().unwrap_or_default().to_string();
        ready(text.contains(wanted), text)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_typed_in_the_browser_reaches_a_chat_client_and_back() {
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    let a = NodeSpec {
        web: true,
        chat: true,
        ..plain("A")
    };
    let b = NodeSpec {
        chat: true,
        ..plain("B")
    };
    let mut c = TestCluster::bind_with(&[a, b], FAST_ELECTION).await;
    c.start_node("A").await;
    c.start_node("B").await;
    let web = c.node("A").http_addr().unwrap();
    let chat = |id: &str| c.cluster.node(id).unwrap().chat_addr().unwrap();
    let account = format!("c{}", unique());
    browser.register(web, &account, "UTC").await;
    browser.login(web, &account).await;
    browser.go(format!("http://{web}/chat")).await;

    // The page offers a valid identity (the account's name, or one made
    // from it); connect with it.
    let me = run(
        &mut browser,
        "return document.getElementById('chat-identity').value;",
        json!([]),
    )
    .await
    .as_str()
    .unwrap()
    .to_string();
    assert!(convene_chat::check_identity(&me).is_ok(), "{me}");
    press(&mut browser, "//button[normalize-space()='Connect']").await;
    shows(&mut browser, "#chat-status", "Connected as").await;
    shows(&mut browser, "#chat-current", "MainHall-A").await;

    // The page fits a phone and names its fields.
    let fits = run(
        &mut browser,
        "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
        json!([]),
    )
    .await;
    assert_eq!(fits, json!(true), "/chat is wider than a phone");
    let unnamed = run(
        &mut browser,
        "return Array.from(document.querySelectorAll('input:not([type=hidden])'))\
         .filter(e => !(e.id && document.querySelector('label[for=\"' + e.id + '\"]')))\
         .map(e => e.id);",
        json!([]),
    )
    .await;
    assert_eq!(unnamed, json!([]), "fields without a label on /chat");

    // A room made in the browser; a TCP client joins it; messages both ways.
    let mut bob = ChatSession::login(chat("A"), "Bob", WAIT).await.unwrap();
    browser.type_into("#chat-new-room", "webroom").await;
    press(
        &mut browser,
        "//button[normalize-space()='Create and enter']",
    )
    .await;
    shows(&mut browser, "#chat-current", "webroom").await;
    bob.send(&ClientMessage::JoinRoom {
        roomid: "webroom".into(),
    })
    .await
    .unwrap();
    shows(
        &mut browser,
        "#chat-log",
        "Bob moves from MainHall-A to webroom",
    )
    .await;
    browser
        .type_into("#chat-message", "hello from Chromium")
        .await;
    press(&mut browser, "//button[normalize-space()='Send']").await;
    let heard = tcp_until(&mut bob, |m| matches!(m, ServerMessage::Message { .. })).await;
    assert_eq!(
        heard,
        ServerMessage::Message {
            identity: me.clone(),
            content: "hello from Chromium".into()
        }
    );
    bob.send(&ClientMessage::Message {
        content: "hi browser".into(),
    })
    .await
    .unwrap();
    shows(&mut browser, "#chat-log", "Bob: hi browser").await;
    browser.check_page("chat").await;

    // A room on B, joined from the room list: the page moves there.
    press(&mut browser, "//button[@aria-label='Delete webroom']").await;
    shows(&mut browser, "#chat-log", "Room webroom is deleted.").await;
    let mut cy = owner_of_room(chat("B"), "Cyril", "far").await;
    press(&mut browser, "//button[normalize-space()='Refresh rooms']").await;
    shows(&mut browser, "#chat-rooms", "far").await;
    press(&mut browser, "//button[@aria-label='Join far']").await;
    shows(&mut browser, "#chat-log", "switches to server B").await;
    shows(&mut browser, "#chat-current", "far").await;
    cy.send(&ClientMessage::Message {
        content: "welcome to B".into(),
    })
    .await
    .unwrap();
    shows(&mut browser, "#chat-log", "Cyril: welcome to B").await;

    // A room named in the address (as a final event's page links one): the
    // page makes it once connected, and TCP clients see it in the list.
    browser
        .go(format!("http://{web}/chat?room=Kickoff42"))
        .await;
    press(&mut browser, "//button[normalize-space()='Connect']").await;
    shows(&mut browser, "#chat-current", "Kickoff42").await;
    bob.send(&ClientMessage::List).await.unwrap();
    let listed = tcp_until(&mut bob, |m| matches!(m, ServerMessage::RoomList { .. })).await;
    assert!(format!("{listed:?}").contains("Kickoff42"), "{listed:?}");
    drop(browser);
    c.stop().await;
}
