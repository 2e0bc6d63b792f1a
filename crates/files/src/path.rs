//! [`SharedPath`]: the name of a file inside a shared folder, checked once so it
//! can never point outside that folder.
//!
//! Names reach a node from two places it does not control: a peer (over the
//! network, in a listing or an update) and the folder watcher (from the file
//! system, where a user's file manager created them). A peer that says it has
//! a newer `../../.ssh/authorized_keys` must not get that file written. So a
//! name is *parsed* into a `SharedPath` at the border, and everything past the
//! border (the sync plan, the locks, the listing) takes a `SharedPath`, never
//! a `&str`: a value of this type is proof that the checks ran.
//!
//! # The rules, and why each
//!
//! A shared path is one or more components joined by `/`:
//!
//! - **Relative.** No leading `/`; it is always read against the folder's root.
//! - **No empty, `.` or `..` component.** `..` climbs out of the folder. `.` and
//!   empty components (`a//b`, `a/`) do not, but they give one file several
//!   spellings, and two nodes must agree on what is the same name.
//! - **No NUL, no control characters.** The operating system cuts a name at
//!   NUL, so `a.txt\0.jpg` would be checked as one name and written as
//!   another. Control characters (newlines, escape sequences) would forge or
//!   garble the listing and the logs.
//! - **No backslash.** It is the separator of a Windows peer. Refusing it keeps
//!   one meaning everywhere: on Linux `a\b` would be one file, on Windows two
//!   components.
//! - **At most [`MAX_COMPONENT_BYTES`] per component and [`MAX_PATH_BYTES`] in
//!   all**, the common limits of Linux file systems (`NAME_MAX`, `PATH_MAX`): a
//!   longer name could not be created anyway, and refusing it here gives a
//!   clear error instead of a failed write mid-sync.
//! - **No component starting with [`RESERVED_PREFIX`]** (`.convene-`), in any
//!   letter case. The sync runtime writes a file's incoming bytes to a
//!   temporary `.convene-tmp-…` beside it and renames it into place when
//!   complete, and the lock holder keeps a locked file's held updates in
//!   `.convene-held-…` files. A peer that could name those files could
//!   overwrite a half-received file or a held update. The
//!   case is ignored because macOS and Windows file systems ignore it:
//!   `.Convene-tmp-1` is the same file there.
//!
//! Everything else is allowed: spaces, Unicode, leading dots (`.bashrc`), and
//! dots inside a name (`a..b` and `...` are ordinary names, not `..`).
//!
//! # Links on disk
//!
//! Parsing cannot see the disk: `photos` may be a symbolic link to `/etc`.
//! [`resolve`] walks the path from the root and refuses a symbolic link on the
//! way, so that writing a received file cannot leave the folder either.
//!
//! ```
//! use convene_files::path::{PathError, SharedPath};
//!
//! let path = SharedPath::parse("photos/a.jpg").unwrap();
//! assert_eq!(path.file_name(), "a.jpg");
//! assert_eq!(path.parent().unwrap().as_str(), "photos");
//!
//! assert!(matches!(SharedPath::parse("../x"), Err(PathError::ParentDir { .. })));
//! assert!(matches!(SharedPath::parse("/etc/passwd"), Err(PathError::Absolute { .. })));
//!
//! // Two nodes changed a.jpg concurrently: keep both, one under a conflict name.
//! let copy = path.conflict_name("B", 1_724_112_000);
//! assert_eq!(copy.as_str(), "photos/a.sync-conflict-B-20240820-000000.jpg");
//! ```

use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use crate::civil::Utc;

/// The most bytes one component may have (Linux's `NAME_MAX`).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// The most bytes a whole shared path may have (Linux's `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Components starting with this (in any case) belong to Convene itself.
pub const RESERVED_PREFIX: &str = ".convene-";

/// How many characters of an offending name an error quotes.
const SHOWN_CHARS: usize = 80;

/// How many characters of a node id a conflict name keeps.
const MAX_NODE_CHARS: usize = 32;

/// 9999-12-31 23:59:59 UTC, the last second with a four-digit year.
const LAST_FOUR_DIGIT_SECOND: i64 = 253_402_300_799;

/// Why a name is not a [`SharedPath`], or why [`resolve`] refused it.
///
/// The `path` in each variant is the offending text cut to 80 characters
/// (with `…` when cut) and is printed quoted and escaped: it came from a peer
/// or a file system, and a log line must show it, not obey it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The empty string names no file.
    #[error("a shared path cannot be empty")]
    Empty,
    /// Longer than [`MAX_PATH_BYTES`].
    #[error("{path:?} is too long: {len} bytes, at most {MAX_PATH_BYTES} are allowed")]
    TooLong {
        /// The path, cut.
        path: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Starts with `/`.
    #[error("{path:?} is absolute: a shared path is relative to the folder, without a leading '/'")]
    Absolute {
        /// The path, cut.
        path: String,
    },
    /// Contains a NUL byte, which would end the name early on disk.
    #[error("{path:?} contains a NUL byte")]
    Nul {
        /// The path, cut.
        path: String,
    },
    /// Contains `\`, a Windows separator.
    #[error("{path:?} contains a backslash: the only separator is '/'")]
    Backslash {
        /// The path, cut.
        path: String,
    },
    /// Contains a control character (newline, tab, escape, DEL, …).
    #[error("{path:?} contains the control character {character:?}")]
    Control {
        /// The path, cut.
        path: String,
        /// The first control character found.
        character: char,
    },
    /// Has an empty component: `a//b`, or a trailing `/`.
    #[error("{path:?} has an empty component ('//' or a trailing '/')")]
    EmptyComponent {
        /// The path, cut.
        path: String,
    },
    /// Has a `.` component.
    #[error("{path:?} has a '.' component")]
    CurrentDir {
        /// The path, cut.
        path: String,
    },
    /// Has a `..` component, which would climb out of the folder.
    #[error("{path:?} has a '..' component, which would leave the folder")]
    ParentDir {
        /// The path, cut.
        path: String,
    },
    /// A component longer than [`MAX_COMPONENT_BYTES`].
    #[error("{path:?} has a component of {len} bytes, at most {MAX_COMPONENT_BYTES} are allowed")]
    ComponentTooLong {
        /// The path, cut.
        path: String,
        /// The long component's length in bytes.
        len: usize,
    },
    /// A component starts with [`RESERVED_PREFIX`].
    #[error(
        "{path:?} names {component:?}: names starting with {RESERVED_PREFIX:?} are Convene's own files"
    )]
    Reserved {
        /// The path, cut.
        path: String,
        /// The reserved component, cut.
        component: String,
    },
    /// A name on disk that is not UTF-8 (Linux allows any bytes but `/` and NUL).
    #[error("{path:?} is not valid UTF-8 (shown with U+FFFD in place of the bad bytes)")]
    NotUtf8 {
        /// The path, cut, with the bad bytes replaced.
        path: String,
    },
    /// [`SharedPath::from_relative`] got a path outside the root.
    #[error("{path:?} is not inside the shared folder {root:?}")]
    NotUnderRoot {
        /// The full path, cut.
        path: String,
        /// The root, cut.
        root: String,
    },
    /// [`resolve`] met a symbolic link.
    #[error("{path:?} is a symbolic link on disk: writing through it could leave the folder")]
    Symlink {
        /// The part of the shared path that is a link, cut.
        path: String,
    },
    /// [`resolve`] met a file where the path needs a directory.
    #[error("{path:?} is a file on disk, so it cannot hold other files")]
    NotADirectory {
        /// The part of the shared path that is a file, cut.
        path: String,
    },
    /// A folder on the way was moved, or another put in its place, while a
    /// file was on its way into it (see [`crate::beneath`]).
    #[error("{path:?} was moved or replaced while a file was on its way into it")]
    Moved {
        /// The folder, cut.
        path: String,
    },
    /// [`resolve`] could not look at a component (permissions, I/O error).
    #[error("cannot inspect {path:?} on disk: {kind}")]
    Io {
        /// The part of the shared path it could not inspect, cut.
        path: String,
        /// What went wrong.
        kind: io::ErrorKind,
    },
}

/// A valid relative path naming a file inside a shared folder.
///
/// Build one with [`parse`](SharedPath::parse) (names from peers) or
/// [`from_relative`](SharedPath::from_relative) (names from the watcher).
/// Paths compare and sort by the bytes of their text, so every node sorts a
/// listing the same way whatever its locale.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedPath(String);

impl SharedPath {
    /// Checks `text` against the rules in the [module docs](self).
    ///
    /// When a name breaks several rules, the error names the first broken in
    /// this order: empty, too long, absolute; then the first NUL, backslash or
    /// control character from the left; then the components from the left.
    pub fn parse(text: &str) -> Result<SharedPath, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        if text.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong {
                path: shorten(text),
                len: text.len(),
            });
        }
        if text.starts_with('/') {
            return Err(PathError::Absolute {
                path: shorten(text),
            });
        }
        for character in text.chars() {
            if character == '\0' {
                return Err(PathError::Nul {
                    path: shorten(text),
                });
            }
            if character == '\\' {
                return Err(PathError::Backslash {
                    path: shorten(text),
                });
            }
            if character.is_control() {
                return Err(PathError::Control {
                    path: shorten(text),
                    character,
                });
            }
        }
        for component in text.split('/') {
            check_component(text, component)?;
        }
        Ok(SharedPath(text.to_owned()))
    }

    /// The shared path of `full`, a path the watcher reported under `root`.
    ///
    /// `full` must start with `root`, compared component by component, as
    /// written (no file system access, no following of links: the watcher
    /// reports paths under the root it was given). The rest is joined with `/`
    /// whatever the platform's separator and checked like
    /// [`parse`](SharedPath::parse). A name that is not UTF-8 cannot travel to
    /// a peer as text, so it is refused with [`PathError::NotUtf8`] and the
    /// watcher should skip that file and say so.
    pub fn from_relative(root: &Path, full: &Path) -> Result<SharedPath, PathError> {
        let relative = full
            .strip_prefix(root)
            .map_err(|_| PathError::NotUnderRoot {
                path: shorten(&full.to_string_lossy()),
                root: shorten(&root.to_string_lossy()),
            })?;
        let lossy = || shorten(&relative.to_string_lossy());
        let mut text = String::new();
        for component in relative.components() {
            let name = match component {
                Component::Normal(name) => name
                    .to_str()
                    .ok_or_else(|| PathError::NotUtf8 { path: lossy() })?,
                // `components()` only yields `.` first (`./a`); it names nothing.
                Component::CurDir => continue,
                Component::ParentDir => return Err(PathError::ParentDir { path: lossy() }),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(PathError::Absolute { path: lossy() });
                }
            };
            if !text.is_empty() {
                text.push('/');
            }
            text.push_str(name);
        }
        SharedPath::parse(&text)
    }

    /// The path as text, `/`-separated.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components, from the folder's root down to the file name.
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('/')
    }

    /// The directory holding this file, or `None` when it sits at the root.
    pub fn parent(&self) -> Option<SharedPath> {
        // A prefix of a valid path, cut at a `/`, is itself valid.
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| SharedPath(parent.to_owned()))
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, name)| name)
    }

    /// The name under which to keep the losing side of a conflict: when two
    /// nodes changed this file concurrently, neither change is thrown away; one
    /// keeps the name and the other is written beside it as
    /// `name.sync-conflict-<node>-<YYYYMMDD-HHMMSS>.ext`.
    ///
    /// This is Syncthing's convention with the node first, as the issue
    /// names it (Syncthing puts its device id after the time): a listing
    /// then groups one node's conflict copies together. The time is `unix_seconds` in UTC (clamped to
    /// 1970–9999, so the stamp is always 15 characters), `node` the node whose
    /// change the copy holds, with every character outside `[A-Za-z0-9_-]`
    /// replaced by `_` (it is a peer's word, and it becomes part of a file
    /// name) and cut to 32 characters. The extension is the text after the
    /// last `.` of the file name, so the copy still opens with the right
    /// program; a name starting with `.` (`.bashrc`) has none, and stays a
    /// dot file (`.bashrc.sync-conflict-…`).
    ///
    /// The result always obeys the length limits. When the file name is too
    /// long for the suffix, its stem is cut first; in a directory so deep
    /// that even the bare suffix does not fit, the extension and then the
    /// suffix are cut, and the name may then no longer be unique.
    pub fn conflict_name(&self, node: &str, unix_seconds: i64) -> SharedPath {
        let name = self.file_name();
        let directory = &self.0[..self.0.len() - name.len()]; // with its trailing `/`
        let (stem, extension) = split_extension(name);
        let t = Utc::from_unix(unix_seconds.clamp(0, LAST_FOUR_DIGIT_SECOND));
        let marker = format!(
            ".sync-conflict-{}-{:04}{:02}{:02}-{:02}{:02}{:02}",
            sanitize_node(node),
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
        );
        let room = MAX_COMPONENT_BYTES.min(MAX_PATH_BYTES.saturating_sub(directory.len()));
        let tail = match extension {
            Some(extension) => format!("{marker}.{extension}"),
            None => marker.clone(),
        };
        let file_name = if tail.len() <= room {
            format!("{}{tail}", cut(stem, room - tail.len()))
        } else if marker.len() <= room {
            format!("{}{marker}", cut(stem, room - marker.len()))
        } else {
            // Without its leading dot, so that a one-byte cut is not `.`.
            cut(&marker[1..], room.max(1)).to_owned()
        };
        let conflict = SharedPath(format!("{directory}{file_name}"));
        debug_assert_eq!(SharedPath::parse(&conflict.0).as_ref(), Ok(&conflict));
        conflict
    }
}

/// Where on disk `path` lives under `root`, after checking that no component
/// that exists is a symbolic link (nor a file where a directory is needed).
///
/// A link inside the folder can point anywhere, so writing `photos/a.jpg`
/// when `photos` links to `/etc` would write outside. Each component is
/// looked at with [`fs::symlink_metadata`], which describes the link itself
/// instead of following it. A component that does not exist yet is fine: the
/// runtime will create it as a directory, and nothing below it can exist.
/// The last component may be missing (a new file) or a file, but not a link.
/// `root` itself is not checked: which folder to share is the owner's choice,
/// and it may well be reached through a link.
///
/// This is a check, not a lock: a local process that swaps a directory for
/// a link between this check and the write wins the race. It guards against
/// peers, which can only send names; closing the race too would need
/// `openat` with `O_NOFOLLOW` on each component.
pub fn resolve(root: &Path, path: &SharedPath) -> Result<PathBuf, PathError> {
    let text = path.as_str();
    let mut on_disk = root.to_path_buf();
    let mut end = 0;
    let mut exists = true;
    for component in path.components() {
        if end > 0 {
            end += 1; // the `/` before this component
        }
        end += component.len();
        on_disk.push(component);
        if !exists {
            continue; // below a missing directory, nothing exists yet
        }
        let so_far = &text[..end];
        match fs::symlink_metadata(&on_disk) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(PathError::Symlink {
                    path: shorten(so_far),
                });
            }
            Ok(meta) if end < text.len() && !meta.is_dir() => {
                return Err(PathError::NotADirectory {
                    path: shorten(so_far),
                });
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => exists = false,
            Err(error) => {
                return Err(PathError::Io {
                    path: shorten(so_far),
                    kind: error.kind(),
                });
            }
        }
    }
    Ok(on_disk)
}

impl fmt::Display for SharedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SharedPath {
    type Err = PathError;

    fn from_str(text: &str) -> Result<SharedPath, PathError> {
        SharedPath::parse(text)
    }
}

impl AsRef<str> for SharedPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The per-component rules; `path` is the whole text, for the error.
fn check_component(path: &str, component: &str) -> Result<(), PathError> {
    match component {
        "" => Err(PathError::EmptyComponent {
            path: shorten(path),
        }),
        "." => Err(PathError::CurrentDir {
            path: shorten(path),
        }),
        ".." => Err(PathError::ParentDir {
            path: shorten(path),
        }),
        _ if component.len() > MAX_COMPONENT_BYTES => Err(PathError::ComponentTooLong {
            path: shorten(path),
            len: component.len(),
        }),
        _ if is_reserved(component) => Err(PathError::Reserved {
            path: shorten(path),
            component: shorten(component),
        }),
        _ => Ok(()),
    }
}

/// Whether `component` starts with [`RESERVED_PREFIX`], ignoring ASCII case.
fn is_reserved(component: &str) -> bool {
    component
        .as_bytes()
        .get(..RESERVED_PREFIX.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(RESERVED_PREFIX.as_bytes()))
}

/// A file name's stem and extension, for [`SharedPath::conflict_name`].
fn split_extension(name: &str) -> (&str, Option<&str>) {
    if name.starts_with('.') {
        return (name, None);
    }
    match name.rsplit_once('.') {
        Some((stem, extension)) => (stem, Some(extension)),
        None => (name, None),
    }
}

/// `node` reduced to `[A-Za-z0-9_-]`, at most [`MAX_NODE_CHARS`], never empty.
fn sanitize_node(node: &str) -> String {
    let safe: String = node
        .chars()
        .take(MAX_NODE_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "unknown".to_owned()
    } else {
        safe
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Long or hostile input is quoted cut short, never whole.
pub(crate) fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let mut short: String = chars.by_ref().take(SHOWN_CHARS).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests;
