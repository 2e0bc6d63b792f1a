//! `convene book` as a user runs it: the seed's menu from a pipe, the
//! scriptable commands with their exit codes, and the retry lines.

use std::process::Output;

use crate::util::{TestCluster, booking, convene, convene_with_input};

const ROOMS: &str = "facilities = [\"Meeting Room A\", \"Conference Hall\"]";

/// Runs `convene book --server <server> <args>` with `input` on stdin.
async fn book(server: String, args: &[&str], input: &str) -> Output {
    let mut all = vec!["book".to_string(), "--server".to_string(), server];
    all.extend(args.iter().map(|s| s.to_string()));
    convene_with_input(all, input).await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `id` looks as node 0's confirmation ids do: `CONF0-` and 16 hex digits.
fn is_id(id: &str) -> bool {
    id.strip_prefix("CONF0-")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_menu_works_from_a_pipe() {
    let c = TestCluster::start(&[booking("A", true, ROOMS)]).await;
    let server = c.node("A").booking_addr().unwrap().to_string();
    // A booking, whose id the user reads off the screen...
    let out = book(
        server.clone(),
        &[],
        "2\nMeeting Room A\n0\n10\n0\n0\n11\n0\n7\n",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    let first = text(&out.stdout);
    let id = first
        .lines()
        .find_map(|l| l.strip_prefix("Confirmation ID: "))
        .unwrap_or_else(|| panic!("no id in:\n{first}"))
        .to_string();
    assert!(is_id(&id), "{id}");
    // ...and types in again for everything else.
    let input = format!(
        "1\nMeeting Room A\n0,1\n\
         3\n{id}\n-30\n\
         5\n{id}\n60\n\
         6\n{id}\n6\n{id}\n\
         2\nMeeting Room A\nnoon\n\
         9\n7\n"
    );
    let out = book(server.clone(), &[], &input).await;
    assert!(out.status.success(), "{out:?}");
    let stdout = first + &text(&out.stdout);
    for expected in [
        "Facility Booking System Client\nSemantics: at-most-once",
        "1. Query Availability\n2. Book Facility\n3. Change Booking\n4. Monitor Facility\n5. Extend Booking (Idempotent)\n6. Cancel Booking (Non-Idempotent)\n7. Exit",
        "Enter choice (1-7): Enter facility name: Start day (0=Mon, 1=Tue, ..., 6=Sun): Start hour (0-23): Start minute (0-59): End day (0=Mon, 1=Tue, ..., 6=Sun): End hour (0-23): End minute (0-59): \nBooking 'Meeting Room A' from Monday 10:00 to Monday 11:00...",
        &format!("\nBooking successful!\nConfirmation ID: {id}\n"),
        "Querying availability for 'Meeting Room A' on days [0, 1]...",
        "\nAvailability for 'Meeting Room A':\n\n  Monday:\n    00:00 - 10:00\n    11:00 - 24:00\n\n  Tuesday:\n    00:00 - 24:00\n",
        &format!(
            "Changing booking {id} to advance by 30 minutes...\n\nBooking changed successfully!"
        ),
        &format!("Extending booking {id} by 60 minutes...\n\nBooking extended to Mon 11:30"),
        &format!("Cancelling booking {id}...\n\nBooking cancelled successfully"),
        "\nError [7]: Booking has already been cancelled",
        "Invalid input format",
        "\nInvalid choice, please try again",
        "\nExiting client...",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // The end of input ends the menu too (exit 0), without choice 7.
    let out = book(server, &[], "1\nConference Hall\n2\n").await;
    assert!(
        out.status.success() && text(&out.stdout).contains("  Wednesday:\n    00:00 - 24:00"),
        "{out:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scriptable_commands_print_what_a_script_reads() {
    let c = TestCluster::start(&[booking("A", true, ROOMS)]).await;
    let s = c.node("A").booking_addr().unwrap().to_string();
    let run = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let s = s.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            book(s, &args, "").await
        }
    };

    let out = run(&[
        "book",
        "--facility",
        "Meeting Room A",
        "--start",
        "Mon:10:00",
        "--end",
        "mon:11:00",
    ])
    .await;
    let id = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let id = id.strip_suffix('\n').unwrap_or_else(|| panic!("{out:?}"));
    assert!(is_id(id), "{out:?}");
    let out = run(&["query", "--facility", "Meeting Room A", "--days", "0,6"]).await;
    assert_eq!(
        text(&out.stdout),
        "Monday 00:00-10:00 11:00-24:00\nSunday 00:00-24:00\n"
    );
    let out = run(&["change", "--id", id, "--offset", "-30"]).await;
    assert_eq!(text(&out.stdout), "changed\n");
    let out = run(&["extend", "--id", id, "--minutes", "30"]).await;
    assert_eq!(text(&out.stdout), "Booking extended to Mon 11:00\n");
    let out = run(&["cancel", "--id", id]).await;
    assert_eq!(text(&out.stdout), "Booking cancelled successfully\n");
    let out = run(&["cancel", "--id", id]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error [7]: Booking has already been cancelled\n"
    );
    let out = run(&[
        "book",
        "--facility",
        "Meeting Room A",
        "--start",
        "Mon:25:00",
        "--end",
        "Mon:26:00",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("hour 25"), "{out:?}");
    let out = run(&["monitor", "--facility", "Gym", "--seconds", "1"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "Error [1]: Facility 'Gym' not found\n");
    c.stop().await;
}

#[test]
fn a_silent_server_gets_the_seeds_retry_lines_and_exit_code_3() {
    // A socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let out = convene()
        .args([
            "book",
            "--server",
            &server,
            "--timeout",
            "0.1",
            "--retries",
            "2",
            "cancel",
            "--id",
            "CONF000001",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "Timeout, retrying... (attempt 2/3)\nTimeout, retrying... (attempt 3/3)\nMaximum retries reached, request failed\n"
        ),
        "{stderr}"
    );
    // All three attempts were the same request (same id): at-most-once can tell.
    let mut buf = [0u8; 512];
    silent.set_nonblocking(true).unwrap();
    let mut seen = Vec::new();
    while let Ok((n, _)) = silent.recv_from(&mut buf) {
        seen.push(buf[..n].to_vec());
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
}
