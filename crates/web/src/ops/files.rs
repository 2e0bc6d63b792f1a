//! `GET /api/files`, `POST /api/files/lock` and `POST /api/files/unlock`:
//! the composite listing and locks by path or by listing number, for the
//! authenticated [`Caller`], who owns the locks they take.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::http::header::{HeaderValue, RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_events::zone::format_rfc3339;
use convene_files::listing::by_index;
use convene_files::path::SharedPath;
use convene_files::peer_msg::{LockAction, LockView, Refusal};
use convene_files::service::LockOutcome;
use serde::{Deserialize, Serialize};

use super::{Caller, Ops};
use crate::api::ApiJson;
use crate::error::ApiError;

/// `GET /api/files`'s answer.
#[derive(Serialize)]
pub struct FilesOut {
    /// Every file, sorted by name; `index` is its number (`[0]`, `[1]`, …).
    files: Vec<FileOut>,
    /// Nodes that did not answer: their files may be missing.
    missing: Vec<String>,
}

/// One file of the listing.
#[derive(Serialize)]
pub struct FileOut {
    index: usize,
    path: String,
    size: u64,
    /// The newest copy's modification time, RFC 3339 in UTC.
    modified: String,
    locked: bool,
    /// The lock's details, for a locked file the holder described.
    #[serde(skip_serializing_if = "Option::is_none")]
    lock: Option<LockOut>,
}

/// A locked file's lock: whose, for how long, and what waits for it.
#[derive(Serialize)]
pub struct LockOut {
    owner: String,
    /// Seconds since it was locked.
    locked_for: u64,
    /// Seconds the lease has left unless renewed.
    expires_in: u64,
    /// How many updates from other nodes wait for the unlock.
    held: u32,
    /// The nodes the first of them came from, oldest first.
    held_from: Vec<String>,
}

/// The most locks whose details one listing asks the lock holder for (one
/// question each); past it, a locked file shows only `locked`.
pub const MAX_LOCK_DETAILS: usize = 50;

/// The details of the first [`MAX_LOCK_DETAILS`] locked files, from the
/// lock holder; a lock it could not describe is left out.
pub(crate) async fn lock_views(ops: &Ops, locked: &[SharedPath]) -> HashMap<SharedPath, LockView> {
    let mut asks = tokio::task::JoinSet::new();
    for path in locked.iter().take(MAX_LOCK_DETAILS) {
        let (files, path) = (ops.files.clone(), path.clone());
        asks.spawn(async move { (path.clone(), files.lock_view(path).await) });
    }
    let mut views = HashMap::new();
    while let Some(done) = asks.join_next().await {
        if let Ok((path, Ok(Some(view)))) = done {
            views.insert(path, view);
        }
    }
    views
}

/// `GET /api/files`: the composite listing of every files node's folder.
pub async fn list(Extension(ops): Extension<Arc<Ops>>) -> Json<FilesOut> {
    let listing = ops.files.listing().await;
    let views = lock_views(&ops, &listing.locked).await;
    let files = listing
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| FileOut {
            index,
            path: entry.path.as_str().to_string(),
            size: entry.size,
            modified: format_rfc3339(entry.modified),
            locked: listing.locked.contains(&entry.path),
            lock: views.get(&entry.path).map(|v| LockOut {
                owner: v.owner.clone(),
                locked_for: v.locked_ms / 1000,
                expires_in: v.left_ms / 1000,
                held: v.held,
                held_from: v.held_from.clone(),
            }),
        })
        .collect();
    Json(FilesOut {
        files,
        missing: listing.missing,
    })
}

/// A lock or unlock request: the file by `path` or by its `index` in the
/// listing (as it is now), and for unlock, `force` to break another's lock.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockBody {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    force: bool,
}

/// `POST /api/files/lock`.
pub async fn lock(
    Extension(ops): Extension<Arc<Ops>>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<LockBody>,
) -> Result<Response, ApiError> {
    if body.force {
        return Err(ApiError::bad_request("\"force\" applies to unlock only"));
    }
    act(&ops, &caller, body, LockAction::Lock).await
}

/// `POST /api/files/unlock`.
pub async fn unlock(
    Extension(ops): Extension<Arc<Ops>>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<LockBody>,
) -> Result<Response, ApiError> {
    let action = if body.force {
        LockAction::ForceUnlock
    } else {
        LockAction::Unlock
    };
    act(&ops, &caller, body, action).await
}

async fn act(
    ops: &Ops,
    caller: &Caller,
    body: LockBody,
    action: LockAction,
) -> Result<Response, ApiError> {
    let path = match (body.path, body.index) {
        (Some(path), None) => {
            SharedPath::parse(&path).map_err(|e| ApiError::bad_request(format!("path: {e}")))?
        }
        (None, Some(index)) => {
            let listing = ops.files.listing().await;
            by_index(&listing.entries, index)
                .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.to_string()))?
                .path
                .clone()
        }
        _ => {
            return Err(ApiError::bad_request(
                "name the file by \"path\" or by \"index\" (one of them)",
            ));
        }
    };
    act_on(ops, caller, path, action).await
}

/// Asks the lock holder to lock or unlock `path` for `caller`, and says
/// what became of it as the JSON API does.
pub(super) async fn act_on(
    ops: &Ops,
    caller: &Caller,
    path: SharedPath,
    action: LockAction,
) -> Result<Response, ApiError> {
    match ops.files.lock(path.clone(), caller.owner(), action).await {
        LockOutcome::Done(message) => Ok(Json(serde_json::json!({
            "ok": true,
            "path": path.as_str(),
            "message": message,
        }))
        .into_response()),
        LockOutcome::Refused(refusal, reason) => {
            let status = match refusal {
                Refusal::NotOwner => StatusCode::FORBIDDEN,
                Refusal::Held | Refusal::NotLocked | Refusal::TooManyLocks => StatusCode::CONFLICT,
            };
            Err(ApiError::new(status, reason))
        }
        LockOutcome::Busy => {
            let mut response = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the lock holder is busy; try again shortly",
            )
            .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(response)
        }
        LockOutcome::Unavailable(reason) => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason))
        }
    }
}
