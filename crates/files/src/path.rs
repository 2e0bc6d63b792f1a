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
//!   complete, and keeps its own state under that prefix. A peer that could name
//!   those files could overwrite a half-received file or Convene's state. The
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepted_names() {
        for (text, why) in [
            ("a.jpg", "the handout's"),
            ("notes.txt", "the handout's"),
            ("my holiday photo.jpg", "spaces are ordinary characters"),
            ("photos/2024/a.jpg", "nested directories"),
            ("日本語/ファイル.txt", "Unicode"),
            ("Zoë's café.md", "Unicode and an apostrophe"),
            (".bashrc", "a dot file"),
            ("...", "three dots are a name, not '..'"),
            ("a..b", "'..' inside a name climbs nothing"),
            ("..a", "neither is a leading '..'"),
            ("a.", "a trailing dot"),
            (
                "-rf",
                "a leading dash (the runtime never passes names to a shell)",
            ),
            (".convene", "the reserved prefix includes the '-'"),
            ("x/.convenex", "likewise"),
            (
                "a/convene-tmp-1",
                "without the leading dot it is not reserved",
            ),
        ] {
            let path = SharedPath::parse(text);
            assert_eq!(
                path.as_ref().map(SharedPath::as_str),
                Ok(text),
                "{text:?}: {why}"
            );
        }
        let longest_component = "x".repeat(MAX_COMPONENT_BYTES);
        assert!(SharedPath::parse(&longest_component).is_ok());
        let longest_path = vec!["y".repeat(127); 32].join("/"); // 32 * 128 - 1 bytes
        assert_eq!(longest_path.len(), MAX_PATH_BYTES - 1);
        assert!(SharedPath::parse(&longest_path).is_ok());
        let exactly = format!("{longest_path}z");
        assert!(SharedPath::parse(&exactly).is_ok());
    }

    /// The name of an error's variant (the start of its `Debug` text), so
    /// that a table can say which refusal it expects.
    fn variant(error: &PathError) -> String {
        let debug = format!("{error:?}");
        debug
            .split([' ', '{'])
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn refused_names() {
        let long_component = format!("a/{}", "x".repeat(MAX_COMPONENT_BYTES + 1));
        let long_path = vec!["y".repeat(200); 21].join("/"); // 4220 bytes
        for (text, expected, why) in [
            ("", "Empty", "names nothing"),
            ("/etc/passwd", "Absolute", "read against the root"),
            ("/", "Absolute", "likewise"),
            ("a//b", "EmptyComponent", "a second spelling of a/b"),
            ("a/", "EmptyComponent", "a trailing '/'"),
            (".", "CurrentDir", "names the folder itself"),
            ("./a", "CurrentDir", "a second spelling of a"),
            ("a/./b", "CurrentDir", "a second spelling of a/b"),
            ("..", "ParentDir", "leaves the folder"),
            ("../x", "ParentDir", "leaves the folder"),
            ("a/../../x", "ParentDir", "leaves it after a detour"),
            ("a/..", "ParentDir", "the folder itself"),
            ("a\0.jpg", "Nul", "the OS would stop at the NUL"),
            ("a\\b", "Backslash", "a Windows separator"),
            ("..\\x", "Backslash", "a Windows climb"),
            ("a\nb", "Control", "a newline forges log lines"),
            ("a\tb", "Control", "a tab"),
            ("\u{1b}[31mred", "Control", "a terminal escape"),
            ("del\u{7f}", "Control", "DEL"),
            ("nel\u{85}", "Control", "a C1 control"),
            (".convene-tmp-123", "Reserved", "the runtime's temp file"),
            ("d/.convene-state/x", "Reserved", "the runtime's state"),
            (".Convene-TMP-1", "Reserved", "case-blind file systems"),
            (&long_component, "ComponentTooLong", "over NAME_MAX"),
            (&long_path, "TooLong", "over PATH_MAX"),
        ] {
            let error = SharedPath::parse(text).expect_err(why);
            assert_eq!(variant(&error), expected, "{text:?}: {why}: {error}");
        }
        // The details.
        assert_eq!(
            SharedPath::parse("a\nb"),
            Err(PathError::Control {
                path: "a\nb".into(),
                character: '\n'
            })
        );
        assert!(matches!(
            SharedPath::parse(&long_component),
            Err(PathError::ComponentTooLong { len: 256, .. })
        ));
        assert!(matches!(
            SharedPath::parse(&long_path),
            Err(PathError::TooLong { len: 4220, .. })
        ));
        assert_eq!(
            SharedPath::parse("x/.CONVENE-tmp"),
            Err(PathError::Reserved {
                path: "x/.CONVENE-tmp".into(),
                component: ".CONVENE-tmp".into()
            })
        );
    }

    #[test]
    fn errors_quote_the_name_cut_and_escaped() {
        let hostile = format!("{}\n{}", "x".repeat(100), "y".repeat(5000));
        let message = SharedPath::parse(&hostile).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains('…'));
        let message = SharedPath::parse("a\nFAKE LOG LINE")
            .unwrap_err()
            .to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("\\n"), "{message}");
    }

    #[test]
    fn parts() {
        let path = SharedPath::parse("photos/2024/a.jpg").unwrap();
        assert_eq!(
            path.components().collect::<Vec<_>>(),
            ["photos", "2024", "a.jpg"]
        );
        assert_eq!(path.file_name(), "a.jpg");
        assert_eq!(path.parent().unwrap().as_str(), "photos/2024");
        assert_eq!(path.parent().unwrap().parent().unwrap().as_str(), "photos");
        assert_eq!(path.parent().unwrap().parent().unwrap().parent(), None);
        assert_eq!(path.to_string(), "photos/2024/a.jpg");
        assert_eq!("photos/2024/a.jpg".parse::<SharedPath>(), Ok(path));
        let top = SharedPath::parse("a.jpg").unwrap();
        assert_eq!(top.file_name(), "a.jpg");
        assert_eq!(top.parent(), None);
    }

    #[test]
    fn sorting_is_by_bytes() {
        let mut paths: Vec<SharedPath> = ["b", "a/z", "B", "a", "é", "a b", "a.txt"]
            .into_iter()
            .map(|t| SharedPath::parse(t).unwrap())
            .collect();
        paths.sort();
        let sorted: Vec<&str> = paths.iter().map(SharedPath::as_str).collect();
        // Upper case before lower case, ' ' < '.' < '/', non-ASCII last.
        assert_eq!(sorted, ["B", "a", "a b", "a.txt", "a/z", "b", "é"]);
    }

    #[test]
    fn from_relative_names_watcher_events() {
        let root = Path::new("/srv/shared");
        let ok = |full: &str| SharedPath::from_relative(root, Path::new(full));
        assert_eq!(ok("/srv/shared/a.jpg").unwrap().as_str(), "a.jpg");
        assert_eq!(ok("/srv/shared/d/e/f.txt").unwrap().as_str(), "d/e/f.txt");
        assert_eq!(ok("/srv/shared/d//f.txt").unwrap().as_str(), "d/f.txt");
        assert_eq!(ok("/srv/shared"), Err(PathError::Empty));
        assert!(matches!(
            ok("/srv/sharedx/a"),
            Err(PathError::NotUnderRoot { .. })
        ));
        assert!(matches!(
            ok("/etc/passwd"),
            Err(PathError::NotUnderRoot { .. })
        ));
        assert!(matches!(
            ok("/srv/shared/../x"),
            Err(PathError::ParentDir { .. })
        ));
        assert!(matches!(
            ok("/srv/shared/.convene-tmp-9"),
            Err(PathError::Reserved { .. })
        ));
        assert!(matches!(
            ok("/srv/shared/a\\b"),
            Err(PathError::Backslash { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn from_relative_refuses_names_that_are_not_utf8() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let root = Path::new("/srv/shared");
        let full = root.join(OsStr::from_bytes(b"caf\xe9.txt")); // Latin-1 é
        assert_eq!(
            SharedPath::from_relative(root, &full),
            Err(PathError::NotUtf8 {
                path: "caf\u{fffd}.txt".into()
            })
        );
    }

    #[test]
    fn conflict_names() {
        let at = 1_724_112_000 + 13 * 3600 + 45 * 60 + 1; // 2024-08-20 13:45:01 UTC
        let conflict = |path: &str, node: &str| {
            SharedPath::parse(path)
                .unwrap()
                .conflict_name(node, at)
                .to_string()
        };
        assert_eq!(
            conflict("a.jpg", "B"),
            "a.sync-conflict-B-20240820-134501.jpg"
        );
        assert_eq!(
            conflict("d/archive.tar.gz", "node-2"),
            "d/archive.tar.sync-conflict-node-2-20240820-134501.gz"
        );
        assert_eq!(
            conflict("README", "A"),
            "README.sync-conflict-A-20240820-134501"
        );
        assert_eq!(
            conflict("x/.bashrc", "A"),
            "x/.bashrc.sync-conflict-A-20240820-134501"
        );
        assert_eq!(conflict("a.", "A"), "a.sync-conflict-A-20240820-134501.");
        assert_eq!(
            conflict("日記.txt", "A"),
            "日記.sync-conflict-A-20240820-134501.txt"
        );
        // The node id is a peer's word: it cannot add a component or a control character.
        assert_eq!(
            conflict("a.jpg", "../../e\tvil é"),
            "a.sync-conflict-______e_vil__-20240820-134501.jpg"
        );
        assert_eq!(
            conflict("a.jpg", ""),
            "a.sync-conflict-unknown-20240820-134501.jpg"
        );
        let long_node = "n".repeat(100);
        assert_eq!(
            conflict("a", &long_node),
            format!("a.sync-conflict-{}-20240820-134501", "n".repeat(32))
        );
    }

    #[test]
    fn conflict_times_are_utc_and_clamped() {
        let path = SharedPath::parse("a").unwrap();
        let name = |t| path.conflict_name("A", t).to_string();
        assert_eq!(name(0), "a.sync-conflict-A-19700101-000000");
        assert_eq!(name(951_782_400), "a.sync-conflict-A-20000229-000000");
        assert_eq!(name(-1), "a.sync-conflict-A-19700101-000000");
        assert_eq!(name(i64::MAX), "a.sync-conflict-A-99991231-235959");
    }

    #[test]
    fn conflict_names_fit_the_limits() {
        let at = 1_724_112_000;
        // A 255-byte name: the stem is cut to make room, the extension stays.
        let long = format!("{}.txt", "é".repeat(125)); // 254 bytes
        let copy = SharedPath::parse(&long).unwrap().conflict_name("A", at);
        assert_eq!(copy.file_name().len(), MAX_COMPONENT_BYTES - 1); // cut between 'é's
        assert!(
            copy.file_name()
                .ends_with(".sync-conflict-A-20240820-000000.txt")
        );
        // A huge extension: it goes, the marker stays.
        let huge_extension = format!("a.{}", "x".repeat(250));
        let copy = SharedPath::parse(&huge_extension)
            .unwrap()
            .conflict_name("A", at);
        assert_eq!(copy.as_str(), "a.sync-conflict-A-20240820-000000");
        // A directory so deep that two bytes are left for the file name.
        let directory = format!("{}/{}", vec!["d".repeat(254); 16].join("/"), "e".repeat(13));
        assert_eq!(directory.len(), MAX_PATH_BYTES - 3);
        let deep = format!("{directory}/ab");
        let path = SharedPath::parse(&deep).unwrap();
        let copy = path.conflict_name("A", at);
        assert_eq!(copy.as_str().len(), MAX_PATH_BYTES);
        assert_eq!(copy.parent(), path.parent());
        assert_eq!(copy.file_name(), "sy");
    }

    #[test]
    fn resolve_walks_plain_directories() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("a/b")).unwrap();
        fs::write(root.path().join("a/b/c.txt"), "x").unwrap();
        let resolve_ = |text: &str| resolve(root.path(), &SharedPath::parse(text).unwrap());
        assert_eq!(
            resolve_("a/b/c.txt").unwrap(),
            root.path().join("a/b/c.txt")
        );
        // Not there yet: fine, it will be created.
        assert_eq!(
            resolve_("a/b/new.txt").unwrap(),
            root.path().join("a/b/new.txt")
        );
        assert_eq!(
            resolve_("new/dir/f").unwrap(),
            root.path().join("new/dir/f")
        );
        // A file where a directory is needed.
        assert_eq!(
            resolve_("a/b/c.txt/d"),
            Err(PathError::NotADirectory {
                path: "a/b/c.txt".into()
            })
        );
    }

    #[cfg(unix)]
    #[test]
    fn resolve_refuses_symbolic_links() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("d")).unwrap();
        symlink(outside.path(), root.path().join("d/out")).unwrap();
        symlink(outside.path().join("secret"), root.path().join("d/file")).unwrap();
        symlink(root.path().join("d"), root.path().join("inside")).unwrap();
        let resolve_ = |text: &str| resolve(root.path(), &SharedPath::parse(text).unwrap());
        assert_eq!(
            resolve_("d/out/x.txt"),
            Err(PathError::Symlink {
                path: "d/out".into()
            })
        );
        // The last component too, even dangling: writing would follow it.
        assert_eq!(
            resolve_("d/file"),
            Err(PathError::Symlink {
                path: "d/file".into()
            })
        );
        // Even a link that stays inside: what it points to can change.
        assert!(matches!(
            resolve_("inside/x"),
            Err(PathError::Symlink { .. })
        ));
        assert!(resolve_("d/x").is_ok());
    }

    /// Mostly valid names, with the characters that make names invalid
    /// mixed in often enough to matter.
    fn tricky_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a./\\\\\\x00\\n é-]{0,12}",
            "(\\.convene-|[a-zA-Z0-9 ._é日-]{1,12})(/[a-zA-Z0-9 ._é日-]{1,12}){0,5}",
            any::<String>(),
        ]
    }

    fn valid_path() -> impl Strategy<Value = SharedPath> {
        "[a-zA-Z0-9 ._é日-]{1,40}(/[a-zA-Z0-9 ._é日-]{1,40}){0,5}"
            .prop_filter_map("invalid", |t| SharedPath::parse(&t).ok())
    }

    proptest! {
        #[test]
        fn parsed_paths_stay_inside(text in tricky_text()) {
            if let Ok(path) = SharedPath::parse(&text) {
                prop_assert_eq!(SharedPath::parse(path.as_str()), Ok(path.clone()));
                prop_assert!(!path.as_str().starts_with('/'));
                prop_assert!(path.components().all(|c| c != ".." && c != "." && !c.is_empty()));
                let root = Path::new("/srv/shared");
                let joined = root.join(path.as_str());
                prop_assert!(joined.starts_with(root));
                // `starts_with` is lexical ("/srv/shared/../x" starts with it too),
                // so check that every component past the root is a plain name.
                let below: Vec<_> = joined.components().skip(root.components().count()).collect();
                prop_assert_eq!(below.len(), path.components().count());
                prop_assert!(below.iter().all(|c| matches!(c, Component::Normal(_))));
            }
        }

        #[test]
        fn conflict_names_are_valid_siblings(
            path in valid_path(),
            node in any::<String>(),
            at in any::<i64>(),
        ) {
            let copy = path.conflict_name(&node, at);
            prop_assert_eq!(SharedPath::parse(copy.as_str()), Ok(copy.clone()));
            prop_assert_eq!(copy.parent(), path.parent());
            prop_assert_ne!(&copy, &path);
            prop_assert!(copy.file_name().contains(".sync-conflict-"));
        }

        #[test]
        fn from_relative_agrees_with_parse(path in valid_path()) {
            let root = Path::new("/srv/shared");
            let full = root.join(path.as_str());
            prop_assert_eq!(SharedPath::from_relative(root, &full), Ok(path));
        }
    }
}
