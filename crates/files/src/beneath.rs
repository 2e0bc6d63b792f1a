//! Touching files beneath the shared folder without ever following a link.
//!
//! # The race this closes
//!
//! The kernel resolves a path such as `photos/2024/a.jpg` one component at
//! a time, *every time the path is used*. Checking the path first (as
//! [`resolve`](crate::path::resolve) does) and writing to it later leaves a
//! window: a transfer takes many round trips, and a local process that
//! swaps the folder `photos` for a symbolic link to `~/.ssh` in the meantime
//! would have the final rename land the received file through the link,
//! outside the shared folder.
//!
//! # How: directory handles and one name at a time
//!
//! The cure is never to hand the kernel a path of more than one component
//! below the shared folder. A [`Folder`] is an open directory handle. The
//! shared folder itself is opened by its path (which folder to share is the
//! owner's choice, and it may be reached through a link); every folder below
//! it is opened relative to its parent's handle, by one name, with
//! `openat(parent, name, O_DIRECTORY | O_NOFOLLOW)`: the kernel refuses the
//! name if it is a link (`ELOOP`) or not a directory (`ENOTDIR`). A missing
//! folder is created with `mkdirat(parent, name)` and then opened the same
//! way, so a link raced into its place is still refused.
//!
//! What a `Folder` holds is the directory itself, not its name: if someone
//! renames it or puts a link in its place afterwards, the handle still
//! names the same directory, and every later step acts on one name inside
//! it: the temporary file is created there with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` (a fresh file, never an existing one nor
//! a link's target), moved into place with `renameat` (which replaces a
//! name, never writes through it), removed with `unlinkat` (which removes a
//! link itself, not what it points to), and files are read with
//! `O_NOFOLLOW`. No step follows a link.
//!
//! Linux 5.6 offers `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, which
//! does such a walk in one call. We walk by hand instead: it works on every
//! Unix, needs no fallback where a seccomp filter or an old kernel refuses
//! `openat2`, and the walk must visit each component anyway to create the
//! missing ones. The paths are short, so the extra system calls cost
//! nothing next to a transfer.
//!
//! # Durability
//!
//! A rename or an unlink changes a directory, and a directory's changes
//! reach the disk only when the directory itself is synced. So after moving
//! a received file into place, the caller syncs its [`Folder`]
//! ([`Folder::sync`]); a folder created on the way is synced into its
//! parent at once.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use std::io::Write;
//! use convene_files::beneath::{Create, Folder};
//! use convene_files::path::SharedPath;
//!
//! let shared = tempfile::tempdir()?;
//! let path = SharedPath::parse("photos/a.jpg").unwrap();
//! let folder = Folder::parent_of(shared.path(), &path, Create::Missing).unwrap();
//! let (temporary, mut file) = folder.create_temporary(".convene-tmp-")?;
//! file.write_all(b"bytes")?;
//! file.sync_all()?;
//! folder.rename(&temporary, &folder, path.file_name())?;
//! folder.sync()?;
//! assert_eq!(std::fs::read(shared.path().join("photos/a.jpg"))?, b"bytes");
//! # Ok(()) }
//! ```

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::path::{PathError, SharedPath, shorten};

/// How many fresh random names [`Folder::create_temporary`] tries before
/// giving up (each taken one is a 1 in 2^64 coincidence, or an attack).
const NAME_TRIES: usize = 8;

/// Whether a walk creates the folders it finds missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Create them (to put a file there).
    Missing,
    /// A missing folder is an error (to read or remove a file).
    Nothing,
}

/// An open directory in (or being) the shared folder.
#[derive(Debug)]
pub struct Folder {
    fd: OwnedFd,
}

impl Folder {
    /// Opens the shared folder itself, following links: where it lives is
    /// the owner's choice.
    pub fn root(root: &Path) -> io::Result<Folder> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(CWD, root, flags, Mode::empty())?;
        Ok(Folder { fd })
    }

    /// The folder holding `path` under the shared folder `root`, walked one
    /// name at a time without following links; with [`Create::Missing`],
    /// folders missing on the way are created.
    ///
    /// A link or a file where a folder should be is refused
    /// ([`PathError::Symlink`], [`PathError::NotADirectory`]); anything else
    /// (a missing folder, permissions) is [`PathError::Io`].
    pub fn parent_of(root: &Path, path: &SharedPath, create: Create) -> Result<Folder, PathError> {
        let mut here = Folder::root(root).map_err(|e| PathError::Io {
            path: shorten(&root.to_string_lossy()),
            kind: e.kind(),
        })?;
        let Some(parent) = path.parent() else {
            return Ok(here);
        };
        let text = parent.as_str();
        let mut end = 0;
        for name in parent.components() {
            end += name.len() + usize::from(end > 0);
            here = here
                .child(name, create)
                .map_err(|e| here.why(name, &text[..end], e))?;
        }
        Ok(here)
    }

    /// Whether `path`'s folder is still this one: no link, no other folder
    /// put in its place since it was opened. A check just before a rename
    /// into it, so that a file is not applied where its name no longer
    /// leads (the rename itself stays inside this folder either way).
    pub fn still_holds(&self, root: &Path, path: &SharedPath) -> Result<(), PathError> {
        let now = Folder::parent_of(root, path, Create::Nothing)?;
        let moved = || PathError::Moved {
            path: shorten(path.parent().as_ref().map_or("", SharedPath::as_str)),
        };
        match self.same_as(&now) {
            Ok(true) => Ok(()),
            Ok(false) => Err(moved()),
            Err(_) => Err(moved()),
        }
    }

    /// The folder `name` inside this one, not following a link, created
    /// first if missing and `create` says so.
    fn child(&self, name: &str, create: Create) -> io::Result<Folder> {
        let name = single_name(name)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let open = || rustix::fs::openat(&self.fd, name, flags, Mode::empty());
        let fd = match open() {
            Err(Errno::NOENT) if create == Create::Missing => {
                match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o777)) {
                    // The new entry must survive a power cut with the file
                    // that will be put in it.
                    Ok(()) => rustix::fs::fsync(&self.fd)?,
                    // Made meanwhile (by the user, or a link raced in: the
                    // open below refuses that).
                    Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                open()?
            }
            other => other?,
        };
        Ok(Folder { fd })
    }

    /// Says why `name` (the component ending `so_far`) could not be opened
    /// as a folder.
    fn why(&self, name: &str, so_far: &str, error: io::Error) -> PathError {
        let path = shorten(so_far);
        let errno = Errno::from_io_error(&error);
        if matches!(errno, Some(Errno::LOOP) | Some(Errno::NOTDIR)) {
            // Linux says ELOOP for a link under O_NOFOLLOW, some systems
            // ENOTDIR: look at the name itself to tell which.
            let stat = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW);
            return match stat.map(|s| FileType::from_raw_mode(s.st_mode)) {
                Ok(FileType::Symlink) | Err(_) => PathError::Symlink { path },
                Ok(_) => PathError::NotADirectory { path },
            };
        }
        PathError::Io {
            path,
            kind: error.kind(),
        }
    }

    /// Creates a new, empty file here named `prefix` and 16 random hex
    /// digits (from the OS random source, so no one can guess it ahead and
    /// put a link there), opened for writing. `O_EXCL | O_NOFOLLOW`: it is
    /// always a file this call made, never an existing one or a link's
    /// target.
    pub fn create_temporary(&self, prefix: &str) -> io::Result<(String, File)> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        for _ in 0..NAME_TRIES {
            let name = format!("{prefix}{:016x}", convene_rpc::os_random_u64());
            let name_ok = single_name(&name)?;
            match rustix::fs::openat(&self.fd, name_ok, flags, Mode::from_raw_mode(0o666)) {
                Ok(fd) => return Ok((name, File::from(fd))),
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "every temporary name tried was taken",
        ))
    }

    /// Opens the regular file `name` here for reading, refusing a link
    /// (`O_NOFOLLOW`) and anything that is not a plain file (a device or a
    /// pipe: `O_NONBLOCK` keeps opening a pipe from waiting for a writer;
    /// it changes nothing for a plain file).
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let name = single_name(name)?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty())?;
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
        if kind != FileType::RegularFile {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a plain file"),
            ));
        }
        Ok(File::from(fd))
    }

    /// What `name` here is, without following it if it is a link; `None`
    /// if there is nothing by that name.
    pub fn kind_of(&self, name: &str) -> io::Result<Option<FileType>> {
        let name = single_name(name)?;
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves `from` here to `to` in folder `into` (atomically replacing
    /// what `to` was; a link there is replaced, never written through).
    pub fn rename(&self, from: &str, into: &Folder, to: &str) -> io::Result<()> {
        let (from, to) = (single_name(from)?, single_name(to)?);
        Ok(rustix::fs::renameat(&self.fd, from, &into.fd, to)?)
    }

    /// Removes the file `name` here (a link itself, never its target).
    pub fn remove_file(&self, name: &str) -> io::Result<()> {
        let name = single_name(name)?;
        Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// Writes this folder's entries to disk: a rename or removal in it
    /// survives a power cut once this returns.
    pub fn sync(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }

    /// Whether `other` is the same directory (device and inode).
    pub fn same_as(&self, other: &Folder) -> io::Result<bool> {
        let (a, b) = (rustix::fs::fstat(&self.fd)?, rustix::fs::fstat(&other.fd)?);
        Ok(a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    }

    /// Removes, here and in every folder below (not following links), the
    /// files whose name starts with `prefix`; returns how many. For the
    /// temporary files of transfers cut off by a stop or a crash.
    pub fn remove_files_starting(&self, prefix: &str) -> io::Result<usize> {
        let mut removed = 0;
        let mut folders = Vec::new();
        let entries = rustix::fs::Dir::read_from(&self.fd)?;
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::Unknown => match self.kind_of(name)? {
                    Some(kind) => kind,
                    None => continue,
                },
                kind => kind,
            };
            if kind == FileType::Directory {
                folders.push(name.to_string());
            } else if kind == FileType::RegularFile && name.starts_with(prefix) {
                match self.remove_file(name) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        for name in folders {
            // A folder swapped for a link meanwhile is refused, not followed.
            if let Ok(child) = self.child(&name, Create::Nothing) {
                removed += child.remove_files_starting(prefix)?;
            }
        }
        Ok(removed)
    }
}

impl AsFd for Folder {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `name` if it names one entry of a folder: not empty, not `.` or `..`,
/// no `/` and no NUL. Anything else would reach beyond the folder (or
/// nowhere), so it is refused before any system call sees it.
fn single_name(name: &str) -> io::Result<&str> {
    let one = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0']);
    if one {
        Ok(name)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single name inside a folder"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::fs::symlink;

    use super::*;

    fn path(text: &str) -> SharedPath {
        SharedPath::parse(text).unwrap()
    }

    /// A shared folder and, beside it, a folder outside it that must stay
    /// empty whatever the shared folder holds.
    fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        (dir, shared, outside)
    }

    fn put(folder: &Folder, name: &str, bytes: &[u8]) {
        let (temporary, mut file) = folder.create_temporary(".convene-tmp-").unwrap();
        file.write_all(bytes).unwrap();
        folder.rename(&temporary, folder, name).unwrap();
        folder.sync().unwrap();
    }

    fn empty(dir: &Path) -> bool {
        std::fs::read_dir(dir).unwrap().next().is_none()
    }

    #[test]
    fn missing_parents_are_created_and_the_file_lands_there() {
        let (_dir, shared, _) = setup();
        let p = path("a/b/c/file.txt");
        let err = Folder::parent_of(&shared, &p, Create::Nothing).unwrap_err();
        assert!(
            matches!(err, PathError::Io { ref path, kind: io::ErrorKind::NotFound } if path == "a"),
            "{err:?}"
        );
        let folder = Folder::parent_of(&shared, &p, Create::Missing).unwrap();
        put(&folder, p.file_name(), b"hello");
        assert_eq!(
            std::fs::read(shared.join("a/b/c/file.txt")).unwrap(),
            b"hello"
        );
        // Only the file: the temporary name is gone.
        let names: Vec<_> = std::fs::read_dir(shared.join("a/b/c")).unwrap().collect();
        assert_eq!(names.len(), 1);
        folder.still_holds(&shared, &p).unwrap();
        let again = Folder::parent_of(&shared, &p, Create::Nothing).unwrap();
        assert!(again.same_as(&folder).unwrap());
        let mut text = String::new();
        again
            .open_file("file.txt")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello");
    }

    #[test]
    fn a_link_in_a_parent_is_refused_even_with_create() {
        let (_dir, shared, outside) = setup();
        std::fs::create_dir(shared.join("a")).unwrap();
        symlink(&outside, shared.join("a/link")).unwrap();
        for create in [Create::Missing, Create::Nothing] {
            let err = Folder::parent_of(&shared, &path("a/link/deeper/x"), create).unwrap_err();
            assert_eq!(
                err,
                PathError::Symlink {
                    path: "a/link".into()
                }
            );
        }
        std::fs::write(shared.join("a/file"), b"").unwrap();
        let err = Folder::parent_of(&shared, &path("a/file/x"), Create::Missing).unwrap_err();
        assert_eq!(
            err,
            PathError::NotADirectory {
                path: "a/file".into()
            }
        );
        assert!(empty(&outside), "nothing was created through the link");
    }

    #[test]
    fn a_link_as_the_final_name_is_never_followed() {
        let (_dir, shared, outside) = setup();
        let target = outside.join("secret");
        std::fs::write(&target, b"keep me").unwrap();
        symlink(&target, shared.join("x")).unwrap();
        let root = Folder::root(&shared).unwrap();
        // Reading through it is refused.
        let err = root.open_file("x").unwrap_err();
        assert_eq!(Errno::from_io_error(&err), Some(Errno::LOOP), "{err}");
        assert_eq!(root.kind_of("x").unwrap(), Some(FileType::Symlink));
        // Putting a file there replaces the link, never writes through it.
        put(&root, "x", b"new");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
        assert_eq!(std::fs::read(shared.join("x")).unwrap(), b"new");
        // Removing removes a link, not its target.
        symlink(&target, shared.join("y")).unwrap();
        root.remove_file("y").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    }

    #[test]
    fn dot_dot_and_other_non_names_are_refused_before_any_system_call() {
        let (_dir, shared, outside) = setup();
        std::fs::write(outside.join("f"), b"outside").unwrap();
        let root = Folder::root(&shared).unwrap();
        for bad in ["..", ".", "", "../outside/f", "a/b", "nul\0"] {
            let kind = |r: io::Result<()>| r.unwrap_err().kind();
            assert_eq!(
                kind(root.open_file(bad).map(drop)),
                io::ErrorKind::InvalidInput
            );
            assert_eq!(kind(root.remove_file(bad)), io::ErrorKind::InvalidInput);
            assert_eq!(
                kind(root.rename("f", &root, bad)),
                io::ErrorKind::InvalidInput
            );
            assert_eq!(
                kind(root.rename(bad, &root, "f")),
                io::ErrorKind::InvalidInput
            );
            assert_eq!(
                kind(root.child(bad, Create::Missing).map(drop)),
                io::ErrorKind::InvalidInput
            );
        }
        // A shared path cannot spell `..` in the first place.
        assert!(matches!(
            SharedPath::parse("../outside/f"),
            Err(PathError::ParentDir { .. })
        ));
        assert_eq!(std::fs::read(outside.join("f")).unwrap(), b"outside");
    }

    #[test]
    fn a_folder_swapped_for_a_link_after_opening_keeps_writes_inside() {
        let (_dir, shared, outside) = setup();
        let p = path("photos/a.jpg");
        let folder = Folder::parent_of(&shared, &p, Create::Missing).unwrap();
        let (temporary, mut file) = folder.create_temporary(".convene-tmp-").unwrap();
        // Mid-transfer: the folder is moved away and a link put in its place.
        std::fs::rename(shared.join("photos"), shared.join("moved")).unwrap();
        symlink(&outside, shared.join("photos")).unwrap();
        file.write_all(b"bytes").unwrap();
        let err = folder.still_holds(&shared, &p).unwrap_err();
        assert_eq!(
            err,
            PathError::Symlink {
                path: "photos".into()
            }
        );
        // Even a rename done regardless stays in the folder the handle holds.
        folder.rename(&temporary, &folder, "a.jpg").unwrap();
        assert!(empty(&outside));
        assert_eq!(std::fs::read(shared.join("moved/a.jpg")).unwrap(), b"bytes");
        // A folder of the same name, but another one, is noticed too.
        std::fs::remove_file(shared.join("photos")).unwrap();
        std::fs::create_dir(shared.join("photos")).unwrap();
        assert_eq!(
            folder.still_holds(&shared, &p).unwrap_err(),
            PathError::Moved {
                path: "photos".into()
            }
        );
    }

    #[test]
    fn leftover_temporaries_are_removed_everywhere_but_through_links() {
        let (_dir, shared, outside) = setup();
        std::fs::create_dir_all(shared.join("a/b")).unwrap();
        for name in [
            ".convene-tmp-1",
            "a/.convene-tmp-2",
            "a/b/.convene-tmp-3",
            "a/keep",
        ] {
            std::fs::write(shared.join(name), b"").unwrap();
        }
        std::fs::write(outside.join(".convene-tmp-4"), b"").unwrap();
        symlink(&outside, shared.join("a/link")).unwrap();
        let removed = Folder::root(&shared)
            .unwrap()
            .remove_files_starting(".convene-tmp-")
            .unwrap();
        assert_eq!(removed, 3);
        assert!(shared.join("a/keep").exists());
        assert!(outside.join(".convene-tmp-4").exists());
    }
}
