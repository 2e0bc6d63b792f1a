//! `/files`: the composite listing as a page (name, size, date, whether
//! it is locked), a download link per file (`GET /api/files/{path}`, which
//! the session cookie opens), lock and unlock buttons that act as the
//! logged-in account, and an upload form that puts a file into this
//! node's shared folder, from where it syncs like any other file.
//!
//! Every form carries the session's CSRF token; a wrong one gets the 403
//! page and does nothing. The answer to an action is the page again, with
//! what happened above the listing.
//!
//! A locked file shows whose lock it is and the updates from other nodes
//! that wait for it (from which nodes, oldest first): both live at the lock
//! holder, which the page asks for each locked file (the first
//! [`MAX_LOCK_DETAILS`](super::files::MAX_LOCK_DETAILS) of them).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use convene_events::zone::format_rfc3339;
use convene_files::path::SharedPath;
use convene_files::peer_msg::{LockAction, LockView, Refusal};
use convene_files::service::{Listing, LockOutcome};
use maud::{Markup, html};

use super::{Ops, multipart, transfer};
use crate::error::capitalized;
use crate::forms::FormData;
use crate::pages::csrf_refused;
use crate::pages::layout::{self, page};
use crate::session::Viewer;

/// What the last action did: a status, and a sentence for the person.
struct Notice {
    status: StatusCode,
    message: String,
}

impl Notice {
    fn ok(message: impl Into<String>) -> Notice {
        Notice {
            status: StatusCode::OK,
            message: message.into(),
        }
    }

    fn refused(status: StatusCode, message: impl Into<String>) -> Notice {
        Notice {
            status,
            message: message.into(),
        }
    }
}

/// `GET /files`.
pub async fn show(viewer: Viewer, Extension(ops): Extension<Arc<Ops>>) -> Response {
    answer(&viewer, &ops, None).await
}

/// `POST /files/lock`: `csrf`, `path`.
pub async fn lock(viewer: Viewer, Extension(ops): Extension<Arc<Ops>>, form: FormData) -> Response {
    act(viewer, ops, form, LockAction::Lock).await
}

/// `POST /files/unlock`: `csrf`, `path`.
pub async fn unlock(
    viewer: Viewer,
    Extension(ops): Extension<Arc<Ops>>,
    form: FormData,
) -> Response {
    act(viewer, ops, form, LockAction::Unlock).await
}

async fn act(viewer: Viewer, ops: Arc<Ops>, form: FormData, action: LockAction) -> Response {
    if !viewer.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let notice = match SharedPath::parse(form.get("path")) {
        Err(e) => Notice::refused(StatusCode::BAD_REQUEST, format!("Path: {e}")),
        Ok(path) => match ops.files.lock(path, &viewer.name, action).await {
            LockOutcome::Done(message) => Notice::ok(message),
            LockOutcome::Refused(refusal, reason) => {
                let status = match refusal {
                    Refusal::NotOwner => StatusCode::FORBIDDEN,
                    _ => StatusCode::CONFLICT,
                };
                Notice::refused(status, reason)
            }
            LockOutcome::Busy => Notice::refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "The lock holder is busy; try again shortly.",
            ),
            LockOutcome::Unavailable(reason) => {
                Notice::refused(StatusCode::SERVICE_UNAVAILABLE, reason)
            }
        },
    };
    answer(&viewer, &ops, Some(notice)).await
}

/// `POST /files/upload`: a `multipart/form-data` form with `csrf`, `file`
/// and optionally `folder` (a directory of the shared folder to put it in).
pub async fn upload(
    viewer: Viewer,
    Extension(ops): Extension<Arc<Ops>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            let notice = Notice::refused(e.status(), capitalized(&transfer::body_problem(&e)));
            return answer(&viewer, &ops, Some(notice)).await;
        }
    };
    let boundary = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary);
    let Some(parts) = boundary.and_then(|b| multipart::parts(&body, &b)) else {
        let notice = Notice::refused(
            StatusCode::BAD_REQUEST,
            "The upload form could not be read; send it from this page.",
        );
        return answer(&viewer, &ops, Some(notice)).await;
    };
    let field = |name: &str| parts.iter().find(|p| p.name == name);
    let text = |name: &str| {
        field(name)
            .and_then(|p| std::str::from_utf8(p.bytes).ok())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    if !viewer.csrf_ok(&text("csrf")) {
        return csrf_refused();
    }
    let notice = match field("file") {
        Some(file) => match file.filename.as_deref().filter(|n| !n.is_empty()) {
            None => Notice::refused(StatusCode::BAD_REQUEST, "Choose a file to upload."),
            Some(name) => {
                // Some browsers send the whole local path: keep its last part.
                let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
                let folder = text("folder");
                let folder = folder.trim_matches('/');
                let wanted = if folder.is_empty() {
                    name.to_string()
                } else {
                    format!("{folder}/{name}")
                };
                match SharedPath::parse(&wanted) {
                    Err(e) => Notice::refused(StatusCode::BAD_REQUEST, format!("Path: {e}")),
                    Ok(path) => match transfer::write(&ops, &path, file.bytes).await {
                        Ok(()) => Notice::ok(format!(
                            "Uploaded {} ({} bytes) into this node's folder; it now syncs to the others.",
                            path.as_str(),
                            file.bytes.len()
                        )),
                        Err(e) => Notice::refused(e.status, e.message),
                    },
                }
            }
        },
        None => Notice::refused(StatusCode::BAD_REQUEST, "Choose a file to upload."),
    };
    answer(&viewer, &ops, Some(notice)).await
}

async fn answer(viewer: &Viewer, ops: &Ops, notice: Option<Notice>) -> Response {
    let listing = ops.files.listing().await;
    let views = super::files::lock_views(ops, &listing.locked).await;
    let status = notice.as_ref().map_or(StatusCode::OK, |n| n.status);
    layout::html(
        status,
        files_page(
            viewer,
            &listing,
            &views,
            ops.folder.is_some(),
            notice.as_ref(),
        ),
    )
}

/// `path` for an address: every byte but unreserved ones and `/`
/// percent-encoded.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn files_page(
    viewer: &Viewer,
    listing: &Listing,
    views: &HashMap<SharedPath, LockView>,
    has_folder: bool,
    notice: Option<&Notice>,
) -> Markup {
    page(
        "Files",
        Some(viewer),
        html! {
            h1 { "Shared files" }
            @if let Some(notice) = notice {
                @if notice.status.is_success() {
                    p.card.notice role="status" { (notice.message) }
                } @else {
                    p.error role="alert" { (notice.message) }
                }
            }
            @if !listing.missing.is_empty() {
                p.error role="alert" {
                    "Not answering, so their files may be missing: "
                    (listing.missing.join(", "))
                }
            }
            @if listing.entries.is_empty() {
                p.card { "No shared files yet." }
            } @else {
                p.hint { "Times are in UTC. A lock is yours to end; you act as "
                    strong { (viewer.name) } "." }
                table.events.files {
                    thead { tr {
                        th { "Name" } th { "Size" } th { "Modified" } th { "Lock" } th { "Actions" }
                    } }
                    tbody {
                        @for entry in &listing.entries {
                            @let locked = listing.locked.contains(&entry.path);
                            tr {
                                td.name data-label="Name" {
                                    a href={ "/api/files/" (encode_path(entry.path.as_str())) }
                                        download { (entry.path.as_str()) }
                                }
                                td data-label="Size" { (entry.size) " bytes" }
                                td data-label="Modified" { (format_rfc3339(entry.modified)) }
                                td data-label="Lock" {
                                    @if locked {
                                        span.state.open { "locked" }
                                        @if let Some(view) = views.get(&entry.path) {
                                            " by " strong { (view.owner) }
                                            @if view.held > 0 {
                                                br;
                                                span.hint {
                                                    (view.held) (if view.held == 1 { " update" } else { " updates" })
                                                    " held, from " (view.held_from.join(", "))
                                                    @if (view.held as usize) > view.held_from.len() { ", …" }
                                                }
                                            }
                                        }
                                    }
                                    @else { span.no { "free" } }
                                }
                                td data-label="Actions" {
                                    form method="post" action={ "/files/" (if locked { "unlock" } else { "lock" }) } {
                                        input type="hidden" name="csrf" value=(viewer.csrf);
                                        input type="hidden" name="path" value=(entry.path.as_str());
                                        button.secondary type="submit"
                                            aria-label={ (if locked { "Unlock " } else { "Lock " }) (entry.path.as_str()) } {
                                            (if locked { "Unlock" } else { "Lock" })
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if has_folder {
                form.card method="post" action="/files/upload" enctype="multipart/form-data" {
                    h2 { "Upload a file" }
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label { "File" input type="file" name="file" required; }
                    label { "Into folder " span.hint { "(optional, e.g. reports/2026)" }
                        input type="text" name="folder"; }
                    button type="submit" { "Upload" }
                }
            } @else {
                p.hint { "This node shares no folder, so it takes no uploads." }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_events::zone::Zone;
    use convene_files::listing::Entry;

    #[test]
    fn the_listing_shows_locks_and_escapes_names() {
        let viewer = Viewer {
            name: "ada".into(),
            zone: Zone::utc(),
            csrf: "tok".into(),
        };
        let a = SharedPath::parse("a b/<x>.txt").unwrap();
        let b = SharedPath::parse("notes.txt").unwrap();
        let listing = Listing {
            entries: vec![
                Entry {
                    path: a.clone(),
                    size: 3,
                    modified: 0,
                },
                Entry {
                    path: b,
                    size: 5,
                    modified: 0,
                },
            ],
            missing: vec![],
            locked: vec![a.clone()],
        };
        let views = HashMap::from([(
            a.clone(),
            LockView {
                owner: "bea".into(),
                locked_ms: 2000,
                left_ms: 28_000,
                held: 2,
                held_from: vec!["B".into(), "C".into()],
            },
        )]);
        let text = files_page(&viewer, &listing, &views, true, None).into_string();
        assert!(
            text.contains("locked</span> by <strong>bea</strong>"),
            "{text}"
        );
        assert!(text.contains("2 updates held, from B, C"));
        assert!(
            text.contains("href=\"/api/files/a%20b/%3Cx%3E.txt\""),
            "{text}"
        );
        assert!(!text.contains("<x>"));
        assert!(text.contains("action=\"/files/unlock\""));
        assert!(text.contains("action=\"/files/lock\""));
        assert!(text.contains("enctype=\"multipart/form-data\""));
        assert_eq!(text.matches("name=\"csrf\" value=\"tok\"").count(), 4);
    }
}
