//! The files service, running.
//!
//! Every node runs it: a node without a `[node.files]` table still gathers
//! the composite listing from the others and passes lock requests to the
//! lock holder. A node that shares a folder also runs the sync task.
//!
//! # Who owns what
//!
//! Each file holds one type, which owns its state; no module reaches into
//! another's.
//!
//! | Type | File | Owns |
//! |---|---|---|
//! | `FilesNode` | `files_node.rs` | what others reach: answers peers (`FilesHandler`) and the web front, hands work on, counts `Busy` refusals |
//! | [`Files`] | `handle.rs` | nothing: the web front's handle on the `FilesNode` |
//! | `Listings` | `listing.rs` | the composite listing (lab 1) and its frozen pages |
//! | `Synchronizer` | `synchronizer.rs` | the sync task (lab 2, and lab 3 at the holder): applies `plan::decide`, resolves conflicts, holds updates of locked files, applies them on unlock |
//! | `SharedFolder` | `shared_folder.rs` | the folder, its index and the index's rows in the store; deletions and conflict copies on disk |
//! | `LockRole` | `role.rs` | who holds the locks (read from the book, moved by the coordinator under authority), and this node's desk while it does |
//! | `LockDesk` | `lock_desk.rs` | at the lock holder: the lock table, written to the book with the holder's fencing token; decides every lock request |
//! | `LockBook` | `lock_book.rs` | the locks, held updates (with their content) and the holder with its fencing token, in the cluster's shared database |
//! | `Held` | `held.rs` | an update waiting for a lock to go, and its file's name |
//! | `WorkQueue`, `Noticed`, `Work` | `queue.rs` | the sync task's work: bounded for what others send, coalesced for what this node notices |
//! | `FolderWatcher` | `watch.rs` | the OS watcher on the folder, debounced |
//! | (functions) | `content.rs` | moving a file's bytes: serving chunks, fetching into a temporary file renamed into place |
//! | (functions) | `calls.rs` | what this node asks of others: announcements, `Hello`, paged reads, the lock holder |
//!
//! # Dependency arrows
//!
//! Which module `use`s which (every one may also use the crate's cores:
//! `plan`, `index`, `locks`, `beneath`, ...). The arrows point one way,
//! down these layers, so there is no cycle:
//!
//! ```text
//!  service.rs (start) ▶ every module it builds
//!  handle ─────────▶ files_node
//!  files_node ─────▶ synchronizer, listing, role, content, calls, queue
//!  synchronizer ───▶ shared_folder, role, lock_desk, watch, content, calls, queue, held
//!  listing ────────▶ role, calls
//!  calls ──────────▶ role
//!  shared_folder ──▶ content
//!  role ───────────▶ lock_desk, lock_book
//!  lock_desk ──────▶ lock_book, held
//!  watch ──────────▶ queue
//!  content, queue, held, lock_book: leaves (nothing of the service)
//! ```
//!
//! So the state is passed down, never reached for up: the sync task gets
//! its folder, queue and desk when it is built, the listing gets the desk,
//! and the leaves get a path, the peers, or a record as arguments.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use convene_cluster::membership::Membership;
use convene_cluster::{Peers, Router, Screen, Shutdown};
use convene_store::Store;
use tokio::task::JoinHandle;

mod calls;
mod content;
mod files_node;
mod handle;
mod held;
mod listing;
pub mod lock_book;
mod lock_desk;
mod observe;
mod queue;
mod role;
mod shared_folder;
mod synchronizer;
mod watch;

pub use files_node::QueueDepths;
pub use handle::{Files, Listing, LockOutcome};

use convene_wire::Decode;
use files_node::{FilesHandler, FilesNode};
use listing::Listings;
use lock_book::{BookHeld, BookLock};
use lock_desk::LockDesk;
use role::{Change, LOOK_EVERY, LockRole};
use shared_folder::SharedFolder;
use synchronizer::Synchronizer;

/// How many listings (and, apart, sets of records) a node keeps frozen for
/// peers reading them page by page, and for how long (see
/// [`convene_cluster::snapshot`]): a reader that finds its snapshot gone
/// starts again.
const SNAPSHOTS_KEPT: usize = 16;
const SNAPSHOT_TTL: Duration = Duration::from_secs(30);

/// What the files service needs from its node.
pub struct FilesContext {
    /// The peer transport.
    pub peers: Peers,
    /// Where to register for [`TAG`](crate::TAG).
    pub router: Arc<Router>,
    /// Where notifications go.
    pub screen: Screen,
    /// The node's store (its records of the folder).
    pub store: Arc<Store>,
    /// Stops the service's tasks.
    pub shutdown: Shutdown,
    /// The shared folder, if this node has one.
    pub root: Option<PathBuf>,
    /// The node's membership: who is live, and whether this node
    /// coordinates with a majority's authority (only then does it move
    /// the lock holder's role). `None` keeps the role where the book has
    /// it.
    pub membership: Option<Membership>,
    /// The lock book in a MySQL or PostgreSQL `database_url`, opened by the
    /// node; `None` keeps it in the SQLite file (see [`lock_book`]).
    pub lock_book: Option<Arc<dyn lock_book::LockBookDb>>,
    /// Faults to inject, for tests; [`FilesFaults::default`] (none)
    /// otherwise.
    pub faults: FilesFaults,
    /// The node's metrics, where this service counts what it serves.
    pub metrics: convene_metrics::Metrics,
}

/// Faults a test injects into the files service: none by default, and
/// nothing but a test sets one (a node process gets them from the hidden
/// `convene node --fault` flag, which is for tests only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilesFaults {
    /// The node waits this long before serving each chunk of a file, so a
    /// transfer from it lasts long enough to act during it.
    pub chunk_pause: Option<std::time::Duration>,
}

/// A running files service.
pub struct FilesService {
    node: Arc<FilesNode>,
    task: Option<JoinHandle<()>>,
    /// The task watching who holds the locks.
    role: JoinHandle<()>,
}

/// Starts the files service of one node: registers for peer requests and,
/// for a node that shares a folder, takes stock of it and reconciles with
/// every other files node.
pub fn start(ctx: FilesContext) -> FilesService {
    let me = ctx.peers.me().id.clone();
    let cluster = ctx.peers.cluster();
    let limits = &cluster.limits;
    // Only a node that shares a folder holds locks: a held update waits
    // in the folder.
    let role = Arc::new(LockRole::open(
        cluster,
        ctx.peers.me(),
        ctx.root.is_some(),
        ctx.lock_book.clone(),
    ));
    let sync = ctx.root.clone().map(|root| {
        let folder = SharedFolder::open(root, me, ctx.store.clone());
        Arc::new(Synchronizer::new(
            ctx.peers.clone(),
            ctx.screen.clone(),
            folder,
            limits.sync_queue,
            role.clone(),
            ctx.shutdown.clone(),
            ctx.metrics.clone(),
        ))
    });
    // A first look before anything runs: the holder of a fresh book (or
    // the one the book names) has its desk from the start.
    look(
        &role,
        &ctx.peers,
        ctx.membership.as_ref(),
        sync.as_deref(),
        &ctx.screen,
    );
    if let (Some(desk), Some(sync)) = (role.desk(), &sync)
        && import_store_locks(&ctx.store, &desk, sync)
    {
        desk.mark_stale();
        look(
            &role,
            &ctx.peers,
            ctx.membership.as_ref(),
            Some(sync),
            &ctx.screen,
        );
    }
    let listings = Listings::new(ctx.peers.clone(), ctx.root, role.clone());
    let node = Arc::new(FilesNode::new(
        ctx.peers.clone(),
        listings,
        sync.clone(),
        role.clone(),
        ctx.faults,
        ctx.metrics,
    ));
    // A second registration is a programming error; the first stands.
    let _ = ctx
        .router
        .register(crate::TAG, Arc::new(FilesHandler(node.clone())));
    let watch_role = tokio::spawn(watch_role(
        role,
        ctx.peers,
        ctx.membership,
        sync.clone(),
        ctx.screen,
        ctx.shutdown,
    ));
    let task = sync.map(|sync| tokio::spawn(sync.run()));
    FilesService {
        node,
        task,
        role: watch_role,
    }
}

/// Looks at who holds the locks every [`LOOK_EVERY`] until `shutdown`.
async fn watch_role(
    role: Arc<LockRole>,
    peers: Peers,
    membership: Option<Membership>,
    sync: Option<Arc<Synchronizer>>,
    screen: Screen,
    shutdown: Shutdown,
) {
    let mut every = tokio::time::interval(LOOK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait() => return,
        }
        look(&role, &peers, membership.as_ref(), sync.as_deref(), &screen);
    }
}

/// Moves the locks and held updates an older Convene kept in this node's
/// own store (when it held the locks) into the shared book, with the held
/// updates' content from their files, then forgets them in the store;
/// `true` if any moved.
fn import_store_locks(store: &Store, desk: &LockDesk, sync: &Synchronizer) -> bool {
    let Ok(locks) = store.file_locks() else {
        return false;
    };
    let mut moved = false;
    for lock in locks {
        let held: Vec<BookHeld> = store
            .held_file_updates(&lock.path)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|update| {
                let parsed = held::Held::from_bytes(&update).ok()?;
                let content = match parsed.file.as_deref() {
                    Some(name) => Some(sync.read_held(name)?),
                    None => None,
                };
                Some(BookHeld { update, content })
            })
            .collect();
        let row = BookLock {
            path: lock.path.clone(),
            owner: lock.owner,
            expires_ms: lock.expires_ms,
        };
        match desk.import(&row, &held) {
            Ok(copied) => {
                moved |= copied;
                let _ = store.clear_held_file_updates(&lock.path);
                let _ = store.remove_file_lock(&lock.path);
            }
            Err(e) => {
                tracing::warn!(path = %lock.path, "cannot move a lock into the shared book: {e}")
            }
        }
    }
    moved
}

/// One look at who holds the locks (see [`LockRole::look`]); says so when
/// this node takes them or gives them up, and has the sync task
/// reconcile with every files node then.
fn look(
    role: &LockRole,
    peers: &Peers,
    membership: Option<&Membership>,
    sync: Option<&Synchronizer>,
    screen: &Screen,
) {
    let cluster = peers.cluster();
    let mut materialize = |held: &held::Held, bytes: &[u8]| {
        if let Some(sync) = sync {
            sync.materialize(held, bytes);
        }
    };
    let change = role.look(cluster, membership, &mut materialize);
    match change {
        Change::None => return,
        Change::Took => screen.line("Files: this node holds the file locks now.".to_string()),
        Change::Left => {
            let holder = role.holder(cluster).map_or("(none)", |n| n.id.as_str());
            screen.line(format!("Files: node {holder} holds the file locks now."));
            if let Some(sync) = sync {
                sync.forget_held_files();
            }
        }
    }
    if let Some(sync) = sync {
        sync.pull_from_all();
    }
}

impl FilesService {
    /// A handle for the node's web front: listings and locks.
    pub fn handle(&self) -> Files {
        Files::new(self.node.clone())
    }

    /// Waits until the service's task has ended (after the node's shutdown).
    pub async fn join(self) {
        if let Some(task) = self.task {
            let _ = task.await;
        }
        let _ = self.role.await;
    }
}
