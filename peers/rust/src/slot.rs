//! The slot through which the tasks of one peer connection (event callbacks, channel watchers,
//! track readers) reach the connection they belong to without keeping it alive.

use std::sync::{Arc, OnceLock, Weak};

use webrtc::peer_connection::PeerConnection;

/// Set once the peer connection is built; a task upgrades it while the connection lives.
pub type PeerConnectionSlot = Arc<OnceLock<Weak<dyn PeerConnection>>>;
