//! Starting and stopping one node.

use std::net::SocketAddr;
use std::sync::Arc;

use convene_booking::service::{BookingContext, BookingService};
use convene_chat::service::{ChatContext, ChatService};
use convene_cluster::membership::Membership;
use convene_cluster::shutdown::{Shutdown, ShutdownTrigger};
use convene_cluster::{ClusterConfig, Peers, Router, Screen};
use convene_files::service::{FilesContext, FilesService};
use convene_meet::{MeetContext, MeetService};
use convene_store::Store;
use tokio::task::JoinHandle;

use crate::bind::NodeSockets;
use crate::error::NodeError;

/// A node that is running. Stop it with [`RunningNode::stop`].
pub struct RunningNode {
    id: String,
    peer_addr: SocketAddr,
    client_addr: Option<SocketAddr>,
    booking_addr: Option<SocketAddr>,
    trigger: ShutdownTrigger,
    transport: JoinHandle<()>,
    membership: Membership,
    membership_task: JoinHandle<()>,
    meet: MeetService,
    booking: BookingService,
    chat: ChatService,
    files: FilesService,
    store: Arc<Store>,
}

/// Starts node `id` of `cluster` on sockets already bound for it.
pub async fn start(
    cluster: Arc<ClusterConfig>,
    id: &str,
    sockets: NodeSockets,
    screen: Screen,
) -> Result<RunningNode, NodeError> {
    let node = cluster.node(id)?;
    let me = cluster.index_of(id).unwrap_or_default();
    let store = Arc::new(
        Store::open(&node.data_dir).map_err(|source| NodeError::Store {
            node: id.to_string(),
            source,
        })?,
    );
    let peer_addr = sockets
        .peer
        .local_addr()
        .map_err(|source| NodeError::Bind {
            node: id.to_string(),
            what: "peer_port (UDP)",
            addr: node.peer_addr(),
            source,
        })?;
    let client_addr = sockets.client.as_ref().and_then(|l| l.local_addr().ok());
    let booking_addr = sockets.booking.as_ref().and_then(|s| s.local_addr().ok());

    let (trigger, shutdown) = Shutdown::new();
    let router = Arc::new(Router::new());
    let transport_shutdown = shutdown.clone();
    let (client, transport) = convene_rpc::start(
        sockets.peer,
        convene_rpc::Config::default(),
        router.clone(),
        async move { transport_shutdown.wait().await },
    );
    let peers = Peers::new(client, cluster.clone(), me);
    // Membership first, so services can watch the coordinator from the start.
    let (membership, membership_task) = Membership::start(
        peers.clone(),
        &router,
        cluster.election.clone(),
        shutdown.clone(),
    );
    let meet = convene_meet::start(MeetContext {
        peers: peers.clone(),
        router: router.clone(),
        screen: screen.clone(),
        store: store.clone(),
        shutdown: shutdown.clone(),
        client_listener: sockets.client,
    })
    .await;
    let meet = match meet {
        Ok(meet) => meet,
        Err(source) => {
            trigger.trigger();
            let _ = transport.await;
            return Err(NodeError::Meet {
                node: id.to_string(),
                source,
            });
        }
    };
    let chat = convene_chat::service::start(ChatContext {
        peers: peers.clone(),
        router: router.clone(),
        membership: membership.clone(),
        shutdown: shutdown.clone(),
        listener: sockets.chat,
    });
    let files = convene_files::service::start(FilesContext {
        peers: peers.clone(),
        router: router.clone(),
        screen: screen.clone(),
        store: store.clone(),
        shutdown: shutdown.clone(),
        root: node.files.as_ref().map(|f| f.dir.clone()),
    });
    let booking = convene_booking::service::start(BookingContext {
        peers,
        router,
        screen,
        store: store.clone(),
        shutdown: shutdown.clone(),
        socket: sockets.booking,
    })
    .await;
    let booking = match booking {
        Ok(booking) => booking,
        Err(source) => {
            trigger.trigger();
            meet.join().await;
            chat.join().await;
            let _ = transport.await;
            return Err(NodeError::Booking {
                node: id.to_string(),
                source,
            });
        }
    };
    tracing::info!(node = id, %peer_addr, "node started");
    Ok(RunningNode {
        id: id.to_string(),
        peer_addr,
        client_addr,
        booking_addr,
        trigger,
        transport,
        membership,
        membership_task,
        meet,
        booking,
        chat,
        files,
        store,
    })
}

impl RunningNode {
    /// The node's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the node's peer socket is bound.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Where meet clients connect, if the node serves them.
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.client_addr
    }

    /// The node's view of the cluster: the coordinator and the live nodes.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// The node's meet service.
    pub fn meet(&self) -> &MeetService {
        &self.meet
    }

    /// The node's booking service.
    pub fn booking(&self) -> &BookingService {
        &self.booking
    }

    /// The node's chat service.
    pub fn chat(&self) -> &ChatService {
        &self.chat
    }

    /// The node's files service.
    pub fn files(&self) -> &FilesService {
        &self.files
    }

    /// Where chat clients connect, if this node is a chat server.
    pub fn chat_addr(&self) -> Option<SocketAddr> {
        self.chat.addr()
    }

    /// Where booking clients send requests, if this node is a front door.
    pub fn booking_addr(&self) -> Option<SocketAddr> {
        self.booking_addr
    }

    /// Stops the node: every task ends, then the store is closed.
    pub async fn stop(self) {
        self.trigger.trigger();
        self.meet.join().await;
        self.booking.join().await;
        self.chat.join().await;
        self.files.join().await;
        let _ = self.membership_task.await;
        let _ = self.transport.await;
        // Last reference: the SQLite connection closes here, after every
        // writer has finished.
        drop(self.store);
        tracing::info!(node = %self.id, "node stopped");
    }
}
