//! Moving a file's bytes between nodes.
//!
//! The sender serves chunks of the version its record names, and answers
//! `Gone` once the file no longer is that version. The receiver writes the
//! chunks to a temporary file in the shared folder (a `.convene-tmp-…` name,
//! which the folder walk and the listing never show), checks them with a
//! [`transfer::Assembly`](crate::transfer::Assembly), gives the file the
//! record's modified time, and only then renames it over the real name: an
//! atomic replace, so a reader never sees half a file and a torn transfer
//! leaves the old file as it was. Memory stays one chunk, whatever the size.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use convene_cluster::ServiceTag;
use convene_wire::{Decode, Encode};

use super::FilesNode;
use super::sync::Sync;
use crate::files_msg::{CHUNK_BYTES, FilesReply, FilesRequest};
use crate::path::{RESERVED_PREFIX, SharedPath, resolve};
use crate::plan::Record;
use crate::transfer::{Assembly, TransferError, checksum};

/// Why a file could not be brought over.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The name would leave the folder (a link on the way), or is not usable.
    #[error("refused: {0}")]
    Path(#[from] crate::path::PathError),
    /// The peer did not answer, or answered nonsense.
    #[error("the peer did not answer")]
    NoAnswer,
    /// The peer no longer has that version (it changed again: a newer
    /// record will follow).
    #[error("the peer no longer has that version")]
    Gone,
    /// The bytes were wrong (damaged, out of order, or changed mid-way).
    #[error("{0}")]
    Transfer(#[from] TransferError),
    /// Writing here failed (a full disk, permissions).
    #[error("cannot write here: {0}")]
    Io(#[from] std::io::Error),
}

impl Sync {
    /// One chunk of `path`'s content as its record `checksum` names it.
    pub async fn serve_chunk(&self, path: &SharedPath, wanted: u64, offset: u64) -> FilesReply {
        let size = match self.index().get(path) {
            Some(r) if !r.deleted && r.checksum == wanted => r.size,
            _ => return FilesReply::Gone,
        };
        let Ok(on_disk) = resolve(&self.root, path) else {
            return FilesReply::Gone;
        };
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut file = std::fs::File::open(on_disk)?;
            file.seek(SeekFrom::Start(offset))?;
            let want = CHUNK_BYTES.min(size.saturating_sub(offset) as usize);
            let mut bytes = vec![0u8; want];
            let mut filled = 0;
            while filled < want {
                let n = file.read(&mut bytes[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            bytes.truncate(filled);
            Ok(bytes)
        })
        .await;
        match read {
            Ok(Ok(bytes)) => FilesReply::Chunk {
                size,
                offset,
                checksum: checksum(&bytes),
                bytes,
            },
            _ => FilesReply::Gone,
        }
    }
}

impl FilesNode {
    /// Brings `record`'s content of `path` over from the node at `addr`
    /// and puts it at `target` (the same name, or a conflict copy's).
    pub(super) async fn fetch_into(
        &self,
        addr: SocketAddr,
        path: &SharedPath,
        record: &Record,
        target: &SharedPath,
    ) -> Result<(), FetchError> {
        let Some(sync) = self.sync.as_ref() else {
            return Err(FetchError::NoAnswer);
        };
        let destination = resolve(&sync.root, target)?;
        self.fetch_to(addr, path, record, destination).await
    }

    /// As [`fetch_into`](FilesNode::fetch_into), to a place in the folder
    /// given as a path (a held update's file).
    pub(super) async fn fetch_to(
        &self,
        addr: SocketAddr,
        path: &SharedPath,
        record: &Record,
        destination: PathBuf,
    ) -> Result<(), FetchError> {
        let Some(sync) = self.sync.as_ref() else {
            return Err(FetchError::NoAnswer);
        };
        let temporary = sync.root.join(format!(
            "{RESERVED_PREFIX}tmp-{:016x}",
            convene_rpc::random_seed()
        ));
        let result = self
            .download(addr, path, record, &temporary, &destination)
            .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        result
    }

    async fn download(
        &self,
        addr: SocketAddr,
        path: &SharedPath,
        record: &Record,
        temporary: &Path,
        destination: &PathBuf,
    ) -> Result<(), FetchError> {
        let mut file = std::fs::File::create(temporary)?;
        let mut assembly = Assembly::new(record.size, record.checksum);
        while !assembly.is_complete() {
            let request = FilesRequest::Fetch {
                path: path.clone(),
                checksum: record.checksum,
                offset: assembly.next_offset(),
            };
            let reply = self
                .peers
                .call(addr, ServiceTag::Files, &request.to_bytes())
                .await
                .map_err(|_| FetchError::NoAnswer)?;
            match FilesReply::from_bytes(&reply).map_err(|_| FetchError::NoAnswer)? {
                FilesReply::Chunk {
                    size,
                    offset,
                    checksum,
                    bytes,
                } => {
                    if size != record.size || bytes.is_empty() {
                        return Err(FetchError::Gone);
                    }
                    assembly.accept(offset, &bytes, checksum)?;
                    file.write_all(&bytes)?;
                }
                FilesReply::Gone => return Err(FetchError::Gone),
                _ => return Err(FetchError::NoAnswer),
            }
        }
        assembly.finish()?;
        file.sync_all()?;
        let modified = if record.modified_ns >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_nanos(record.modified_ns as u64)
        } else {
            SystemTime::UNIX_EPOCH
        };
        file.set_modified(modified)?;
        drop(file);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(temporary, destination)?;
        Ok(())
    }
}
