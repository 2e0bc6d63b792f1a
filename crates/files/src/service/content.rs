//! Moving a file's bytes between nodes: functions over a path in the
//! shared folder and the peer transport, with no state of their own.
//!
//! The sender serves chunks of the version its record names, and answers
//! `Gone` once the file no longer is that version. The receiver writes the
//! chunks to a temporary file (a `.convene-tmp-…` name, which the folder
//! walk and the listing never show) in the folder the file goes to, checks
//! them with a [`transfer::Assembly`](crate::transfer::Assembly), syncs the
//! file to disk and gives it the record's modified time, and only then
//! renames it over the real name: an atomic replace, so a reader never sees
//! half a file and a torn transfer leaves the old file as it was. Memory
//! stays one chunk, whatever the size.
//!
//! Every step goes through a [`Folder`] handle opened before the transfer
//! (see [`crate::beneath`]), never through a path: a folder swapped for a
//! link while the chunks arrive cannot lead the file elsewhere. Just before
//! the rename the folder is checked to be still where the file's name
//! leads; if it is not, the file is not applied.
//!
//! # Order on disk
//!
//! The file is synced, renamed, and its folder synced, before the caller
//! writes the record that says this node has that version (the store syncs
//! that too). A power cut between the two leaves the new content with the
//! old record: the next walk sees a change made here, and the peers find
//! the two versions concurrent with equal content, which merges without a
//! conflict. The other order would be unsafe: a record naming content the
//! disk lost would let the old content pass for the newer version.
//!
//! # What lives here
//!
//! - serving: [`serve_chunk`];
//! - fetching: [`fetch_into`] (a file of the folder, or its conflict copy)
//!   and [`fetch_to`] (any [`Place`], such as a held update's file);
//! - moving a held update's file into place: [`place_held`];
//! - the litter of transfers cut off by a stop: [`remove_torn_transfers`].

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use convene_cluster::Peers;

use crate::peer_msg::TAG;
use convene_wire::{Decode, Encode};

use crate::beneath::{Create, Folder};
use crate::path::{RESERVED_PREFIX, SharedPath};
use crate::peer_msg::{CHUNK_BYTES, FilesReply, FilesRequest};
use crate::plan::Record;
use crate::transfer::{Assembly, TransferError, checksum};

use super::observe;

/// The name every temporary file of a transfer starts with.
pub(crate) fn temporary_prefix() -> String {
    format!("{RESERVED_PREFIX}tmp-")
}

/// Where a fetched file goes: a folder, opened beforehand, and a name in
/// it; for a file of the shared folder, its path, to check just before
/// the rename that the folder is still where that path leads.
pub(crate) struct Place {
    /// The shared folder.
    root: PathBuf,
    folder: Folder,
    name: String,
    path: Option<SharedPath>,
}

impl Place {
    /// `path` in the shared folder `root` (its missing folders created).
    pub(crate) fn file(root: &Path, path: &SharedPath) -> Result<Place, FetchError> {
        Ok(Place {
            root: root.to_path_buf(),
            folder: Folder::parent_of(root, path, Create::Missing)?,
            name: path.file_name().to_string(),
            path: Some(path.clone()),
        })
    }

    /// `name` (one of Convene's own, such as a held update's file) in the
    /// shared folder `root` itself.
    pub(crate) fn own(root: &Path, name: &str) -> Result<Place, FetchError> {
        Ok(Place {
            root: root.to_path_buf(),
            folder: Folder::root(root)?,
            name: name.to_string(),
            path: None,
        })
    }

    /// Moves `from` (a file in folder `source`) to this place, and syncs
    /// the folders changed: once this returns, the file is there for good.
    /// Refused if the place's folder is no longer where its path leads.
    pub(crate) fn put(&self, source: &Folder, from: &str) -> Result<(), FetchError> {
        if let Some(path) = &self.path {
            self.folder.still_holds(&self.root, path)?;
        }
        source.rename(from, &self.folder, &self.name)?;
        self.folder.sync()?;
        if !source.same_as(&self.folder)? {
            source.sync()?;
        }
        Ok(())
    }
}

/// Why a file could not be brought over.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The name would leave the folder (a link on the way), or is not usable.
    #[error("refused: {0}")]
    Path(crate::path::PathError),
    /// The peer did not answer, or answered nonsense.
    #[error("the peer did not answer")]
    NoAnswer,
    /// The peer no longer has that version (it changed again: a newer
    /// record will follow).
    #[error("the peer no longer has that version")]
    Gone,
    /// The bytes were wrong (damaged, out of order, or changed mid-way).
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// Writing here failed (a full disk, permissions).
    #[error("cannot write here: {0}")]
    Io(std::io::Error),
    /// The file here changed while the peer's content was on its way: it
    /// is a change of this node's, to be announced and decided like any
    /// other, not overwritten.
    #[error("the file changed here meanwhile")]
    ChangedHere,
}

// Written out rather than `#[from]`, which would also chain the error as
// the `source` that the message already shows.
impl From<crate::path::PathError> for FetchError {
    fn from(error: crate::path::PathError) -> Self {
        FetchError::Path(error)
    }
}

impl From<std::io::Error> for FetchError {
    fn from(error: std::io::Error) -> Self {
        FetchError::Io(error)
    }
}

/// One chunk of `path`'s content, in the shared folder `root`, as its
/// record `checksum` names it; `known` is this node's record of `path`.
/// `Gone` unless that record names the version asked for.
pub(crate) async fn serve_chunk(
    root: &Path,
    path: &SharedPath,
    known: Option<Record>,
    wanted: u64,
    offset: u64,
) -> FilesReply {
    let size = match known {
        Some(r) if !r.deleted && r.checksum == wanted => r.size,
        _ => return FilesReply::Gone,
    };
    let (root, path) = (root.to_path_buf(), path.clone());
    let read = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, FetchError> {
        // Opened without following a link at any step, like a write.
        let folder = Folder::parent_of(&root, &path, Create::Nothing)?;
        let mut file = folder.open_file(path.file_name())?;
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

/// Brings `record`'s content of `path` over from the node at `addr` and
/// puts it at `target` (the same name, or a conflict copy's) in the shared
/// folder `root`.
///
/// `unchanged` is asked right before the rename, once the content is here:
/// `false` (the file at `target` changed here meanwhile) leaves the file as
/// it is and answers [`FetchError::ChangedHere`]. A download takes time,
/// and a change made in it must not be replaced unseen.
pub(crate) async fn fetch_into(
    from: FetchFrom<'_>,
    root: &Path,
    (path, record): (&SharedPath, &Record),
    target: &SharedPath,
    unchanged: &(dyn Fn() -> bool + Send + Sync),
) -> Result<(), FetchError> {
    let observed = from.begin();
    let result = async {
        let place = Place::file(root, target)?;
        download_into(&from, path, record, &place, unchanged).await
    }
    .await;
    observed.finish(observe::fetch_outcome(&result));
    result
}

/// As [`fetch_into`], to any [`Place`] (a held update's file). The
/// temporary file is made in the place's folder and renamed within it.
pub(crate) async fn fetch_to(
    from: FetchFrom<'_>,
    path: &SharedPath,
    record: &Record,
    place: &Place,
) -> Result<(), FetchError> {
    let observed = from.begin();
    let result = download_into(&from, path, record, place, &|| true).await;
    observed.finish(observe::fetch_outcome(&result));
    result
}

/// Downloads into a temporary file in `place`'s folder and renames it into
/// place if `unchanged()` still holds once the content is here; on any
/// failure the temporary file is removed.
async fn download_into(
    from: &FetchFrom<'_>,
    path: &SharedPath,
    record: &Record,
    place: &Place,
    unchanged: &(dyn Fn() -> bool + Send + Sync),
) -> Result<(), FetchError> {
    let (temporary, file) = place.folder.create_temporary(&temporary_prefix())?;
    let result = match download(from, path, record, file).await {
        Ok(()) if !unchanged() => Err(FetchError::ChangedHere),
        Ok(()) => place.put(&place.folder, &temporary),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = place.folder.remove_file(&temporary);
    }
    result
}

/// Where a fetch comes from: the node at `addr`, over `peers`; it is
/// counted in `metrics` (one request per file, its chunks and bytes as
/// events; see [`observe`]).
pub(crate) struct FetchFrom<'a> {
    pub peers: &'a Peers,
    pub metrics: &'a convene_metrics::Metrics,
    pub addr: SocketAddr,
}

impl FetchFrom<'_> {
    fn begin(&self) -> convene_metrics::Request {
        self.metrics.begin(
            observe::SERVICE,
            observe::PEER,
            observe::kinds::FETCH,
            Some(self.addr),
        )
    }

    fn received(&self, bytes: usize) {
        let metrics = self.metrics;
        metrics.count(observe::SERVICE, observe::events::CHUNKS_FETCHED, 1);
        metrics.count(
            observe::SERVICE,
            observe::events::BYTES_FETCHED,
            bytes as u64,
        );
    }
}

/// Moves a held update's file `held` (in the shared folder `root` itself)
/// to `target`: its content came when the update did.
pub(crate) fn place_held(root: &Path, held: &str, target: &SharedPath) -> Result<(), FetchError> {
    let place = Place::file(root, target)?;
    place.put(&Folder::root(root)?, held)
}

/// Reads a held update's file `held` (in the shared folder `root` itself),
/// to keep its content in the shared lock book.
pub(crate) fn read_held(root: &Path, held: &str) -> Result<Vec<u8>, FetchError> {
    let mut bytes = Vec::new();
    Folder::root(root)?
        .open_file(held)?
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Puts `record`'s content `bytes`, kept in the shared lock book, back in
/// a held update's file `held` (in the shared folder `root` itself), with
/// the record's modified time, unless it is there already (this node held
/// it before a restart). Checked against the record's checksum first.
pub(crate) fn write_held(
    root: &Path,
    held: &str,
    record: &Record,
    bytes: &[u8],
) -> Result<(), FetchError> {
    let folder = Folder::root(root)?;
    if folder.kind_of(held)?.is_some() {
        return Ok(());
    }
    if bytes.len() as u64 != record.size || checksum(bytes) != record.checksum {
        return Err(FetchError::Gone);
    }
    let (temporary, mut file) = folder.create_temporary(&temporary_prefix())?;
    let written = (|| {
        file.write_all(bytes)?;
        file.set_modified(modified_time(record))?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = folder.remove_file(&temporary);
        return Err(e.into());
    }
    Place::own(root, held)?.put(&folder, &temporary)
}

/// `record`'s modified time, as the file system takes it.
fn modified_time(record: &Record) -> SystemTime {
    if record.modified_ns >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(record.modified_ns as u64)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

/// Fetches the chunks into `file`, checks them, syncs the file to disk and
/// gives it the record's modified time.
async fn download(
    from: &FetchFrom<'_>,
    path: &SharedPath,
    record: &Record,
    mut file: std::fs::File,
) -> Result<(), FetchError> {
    let (peers, addr) = (from.peers, from.addr);
    let mut assembly = Assembly::new(record.size, record.checksum);
    while !assembly.is_complete() {
        let request = FilesRequest::Fetch {
            path: path.clone(),
            checksum: record.checksum,
            offset: assembly.next_offset(),
        };
        let reply = peers
            .call(addr, TAG, &request.to_bytes())
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
                from.received(bytes.len());
                file.write_all(&bytes)?;
            }
            FilesReply::Gone => return Err(FetchError::Gone),
            _ => return Err(FetchError::NoAnswer),
        }
    }
    assembly.finish()?;
    file.set_modified(modified_time(record))?;
    file.sync_all()?;
    Ok(())
}

/// Removes the files of held updates from the shared folder `root`, when
/// this node does not hold the locks: their content is in the shared lock
/// book, and the holder has its own copies.
pub(crate) fn remove_held_files(root: &Path) {
    let prefix = format!("{RESERVED_PREFIX}held-");
    let removed = Folder::root(root).and_then(|f| f.remove_files_starting(&prefix));
    if let Err(e) = removed {
        tracing::warn!(root = %root.display(), "cannot remove held updates' files: {e}");
    }
}

/// Removes what transfers cut off by a stop or a crash left behind in the
/// shared folder `root`: their temporary files (in the folders their files
/// were going to) never replaced anything, so they are only litter.
pub(crate) fn remove_torn_transfers(root: &Path) {
    let removed = Folder::root(root).and_then(|f| f.remove_files_starting(&temporary_prefix()));
    if let Err(e) = removed {
        tracing::warn!(root = %root.display(), "cannot remove torn transfers: {e}");
    }
}
