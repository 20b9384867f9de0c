//! The client address of a connection, put into each request's extensions
//! by the accept loop (warp's own remote-address filter only works with
//! warp's own server).

use std::net::SocketAddr;

use warp::Filter;

/// The address a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Extracts the client address, when the server recorded one.
pub(super) fn peer()
-> impl Filter<Extract = (Option<PeerAddr>,), Error = std::convert::Infallible> + Clone {
    warp::ext::optional::<PeerAddr>()
}
