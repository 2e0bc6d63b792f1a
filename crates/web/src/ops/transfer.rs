//! `GET`, `PUT` and `POST` on `/api/files/{path}`: download a file, upload
//! one into this node's shared folder (the files service then syncs it to
//! every other folder, as it does any new file), and `…/lock` or
//! `…/unlock` a file by its path in the address.
//!
//! The path comes from the network: it is checked by
//! [`SharedPath::parse`] (no `..`, not absolute, no NUL or control
//! character, …) and then [`resolve`]d under the folder (no symbolic
//! link on the way), so a trick gets `400` with the reason and never
//! reaches the disk.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_files::path::{SharedPath, resolve};
use convene_files::peer_msg::LockAction;

use super::{Caller, Ops};
use crate::error::ApiError;

/// The shared path named by the address, or `400` saying why not.
pub(super) fn shared_path(
    path: Result<Path<String>, PathRejection>,
) -> Result<SharedPath, ApiError> {
    let Path(text) = path.map_err(|e| ApiError::bad_request(format!("path: {e}")))?;
    SharedPath::parse(&text).map_err(|e| ApiError::bad_request(format!("path: {e}")))
}

/// Where `path` is in this node's folder, or why it cannot be there.
pub(super) fn on_disk(ops: &Ops, path: &SharedPath) -> Result<PathBuf, ApiError> {
    let folder = ops.folder.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "this node shares no folder: use the web front of a files node",
        )
    })?;
    resolve(folder, path).map_err(|e| ApiError::bad_request(format!("path: {e}")))
}

/// `GET /api/files/{path}`: the file's bytes, from this node's copy.
pub async fn download(
    Extension(ops): Extension<Arc<Ops>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let path = shared_path(path)?;
    let full = on_disk(&ops, &path)?;
    read(&full, &path).await
}

/// The bytes of `full` as a download named after `path`.
pub(super) async fn read(full: &FsPath, path: &SharedPath) -> Result<Response, ApiError> {
    let not_here = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "{:?} is not in this node's folder (yet): see GET /api/files",
                path.as_str()
            ),
        )
    };
    // Off the async threads: a large file takes a while to read.
    let full = full.to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || match std::fs::metadata(&full) {
        Ok(meta) if meta.is_file() => std::fs::read(&full).ok(),
        _ => None,
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(not_here)?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // Only the file name, and only characters safe in a quoted header.
    let name: String = path
        .file_name()
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::try_from(format!("attachment; filename=\"{name}\"")) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `PUT /api/files/{path}`: the body becomes the file (created, or
/// replaced) in this node's folder. `201` with `{"ok","path","size"}`.
pub async fn upload(
    Extension(ops): Extension<Arc<Ops>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let path = shared_path(path)?;
    let body = body.map_err(|e| ApiError::new(e.status(), body_problem(&e)))?;
    write(&ops, &path, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"ok": true, "path": path.as_str(), "size": body.len()})),
    )
        .into_response())
}

/// Why a body could not be taken, for the person.
pub(super) fn body_problem(rejection: &BytesRejection) -> String {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "the file is larger than {} MiB, the most one request may carry",
            crate::state::MAX_BODY >> 20
        )
    } else {
        "the request body could not be read".to_string()
    }
}

/// Writes `bytes` as `path` in this node's folder, making the
/// directories on the way.
pub(crate) async fn write(ops: &Ops, path: &SharedPath, bytes: &[u8]) -> Result<(), ApiError> {
    let full = on_disk(ops, path)?;
    let bytes = bytes.to_vec();
    let written = tokio::task::spawn_blocking(move || {
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::metadata(&full).is_ok_and(|m| m.is_dir()) {
            return Ok(false);
        }
        std::fs::write(&full, bytes).map(|()| true)
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    match written {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{:?} is a directory", path.as_str()),
        )),
        Err(e) => {
            tracing::warn!(path = path.as_str(), error = %e, "an upload could not be written");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{:?} could not be written: {e}", path.as_str()),
            ))
        }
    }
}

/// `POST /api/files/{path}/lock` and `POST /api/files/{path}/unlock`.
pub async fn lock_or_unlock(
    Extension(ops): Extension<Arc<Ops>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(text) = path.map_err(|e| ApiError::bad_request(format!("path: {e}")))?;
    let (file, action) = if let Some(file) = text.strip_suffix("/lock") {
        (file, LockAction::Lock)
    } else if let Some(file) = text.strip_suffix("/unlock") {
        (file, LockAction::Unlock)
    } else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "POST /api/files/{path}/lock or /unlock",
        ));
    };
    let file = SharedPath::parse(file).map_err(|e| ApiError::bad_request(format!("path: {e}")))?;
    super::files::act_on(&ops, &caller, file, action).await
}
