//! Whose a client id is. Every [`ClientId`] is one `u64` space split into
//! ranges, in this order:
//!
//! | ids | who |
//! |---|---|
//! | `0` ([`VIEWER_CLIENT`]) | the viewer itself: its panels, and scripts (their nodes and controls) |
//! | `1 ..` [`PLUGIN_CLIENT_BASE`] | clients connected over the network, numbered from 1 by the server, which never gives out an id at or above the plugin base |
//! | [`PLUGIN_CLIENT_BASE`] `..` [`REPLAY_CLIENT_BASE`] | plugins, one id each (`PLUGIN_CLIENT_BASE + n`) |
//! | [`REPLAY_CLIENT_BASE`] `..` | a replayed recording's clients (`REPLAY_CLIENT_BASE + the recorded id`) |
//!
//! [`ClientKind::of`] is the one place that reads the ranges.

use crate::node::ClientId;

/// The viewer's own client: its panels' edits and scripts act as it.
pub const VIEWER_CLIENT: ClientId = 0;
/// The first plugin's client id; network ids stay below it.
pub const PLUGIN_CLIENT_BASE: ClientId = 1 << 39;
/// Replayed clients' ids: this plus the id the client had when recorded.
pub const REPLAY_CLIENT_BASE: ClientId = 1 << 40;

/// Who a [`ClientId`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// The viewer itself (panels, scripts): [`VIEWER_CLIENT`].
    Local,
    /// A connection over the network.
    Network,
    /// The `n`-th plugin's own client (`n` from 0).
    Plugin(u64),
    /// A replayed client, with the id it had when recorded.
    Replay(ClientId),
}

impl ClientKind {
    /// Whose `id` is.
    pub fn of(id: ClientId) -> Self {
        match id {
            VIEWER_CLIENT => ClientKind::Local,
            id if id < PLUGIN_CLIENT_BASE => ClientKind::Network,
            id if id < REPLAY_CLIENT_BASE => ClientKind::Plugin(id - PLUGIN_CLIENT_BASE),
            id => ClientKind::Replay(id - REPLAY_CLIENT_BASE),
        }
    }

    /// The id of this client (`None` for a plugin number or recorded id that
    /// does not fit its range).
    pub fn id(self) -> Option<ClientId> {
        match self {
            ClientKind::Local => Some(VIEWER_CLIENT),
            ClientKind::Network => None,
            ClientKind::Plugin(n) => PLUGIN_CLIENT_BASE.checked_add(n).filter(|&id| id < REPLAY_CLIENT_BASE),
            ClientKind::Replay(recorded) => REPLAY_CLIENT_BASE.checked_add(recorded),
        }
    }

    /// Whether `id` is a client that connected over the network (not the
    /// viewer itself, a plugin, or a replayed recording's client).
    pub fn is_network(id: ClientId) -> bool {
        ClientKind::of(id) == ClientKind::Network
    }

    /// Whether `id` is a replayed recording's client.
    pub fn is_replay(id: ClientId) -> bool {
        matches!(ClientKind::of(id), ClientKind::Replay(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_in_order_and_round_trip() {
        assert_eq!(ClientKind::of(0), ClientKind::Local);
        assert_eq!(ClientKind::of(1), ClientKind::Network);
        assert_eq!(ClientKind::of(PLUGIN_CLIENT_BASE - 1), ClientKind::Network);
        assert_eq!(ClientKind::of(PLUGIN_CLIENT_BASE), ClientKind::Plugin(0));
        assert_eq!(ClientKind::of(REPLAY_CLIENT_BASE - 1), ClientKind::Plugin(PLUGIN_CLIENT_BASE - 1));
        assert_eq!(ClientKind::of(REPLAY_CLIENT_BASE), ClientKind::Replay(0));
        assert_eq!(ClientKind::of(REPLAY_CLIENT_BASE + 7), ClientKind::Replay(7));
        assert_eq!(ClientKind::of(u64::MAX), ClientKind::Replay(u64::MAX - REPLAY_CLIENT_BASE));
        for id in [0, PLUGIN_CLIENT_BASE + 3, REPLAY_CLIENT_BASE + 5, u64::MAX] {
            assert_eq!(ClientKind::of(id).id(), Some(id));
        }
        assert_eq!(ClientKind::Replay(u64::MAX).id(), None, "no wrap-around");
        assert_eq!(ClientKind::Plugin(PLUGIN_CLIENT_BASE).id(), None, "plugins stay below replays");
        assert!(ClientKind::is_network(5) && !ClientKind::is_network(0) && !ClientKind::is_network(PLUGIN_CLIENT_BASE));
        assert!(ClientKind::is_replay(REPLAY_CLIENT_BASE) && !ClientKind::is_replay(REPLAY_CLIENT_BASE - 1));
    }
}
