//! TCP (addresses, listeners, connected sockets), UDP sockets, and Unix-domain stream and
//! datagram sockets.

#[macro_use]
mod timeouts;

mod accept;
mod address;
mod conn;
mod datagram;
mod datagram_ops;
mod error;
mod io_traits;
mod ip_options;
pub(crate) mod listener;
pub(crate) mod op;
mod options;
mod read;
mod resolve;
mod stream;
mod target;
mod turn;
mod udp;
mod unix;
mod unix_address;
mod unix_datagram;
mod unix_listener;
mod unix_path;
mod write;

pub use address::{SocketAddress, ToListenAddress};
pub use conn::StreamSocket;
pub use datagram::DatagramSocket;
pub use datagram_ops::{Datagrams, Recv, RecvFrom, SendDatagram, SendTo};
pub use error::SocketError;
pub use listener::{Accept, Connections, ServerSocket};
pub use options::{AtLimit, ListenOptions};
pub use read::{Read, ReadBuf, ReadInto};
pub use stream::Socket;
pub use target::Target;
pub use udp::{UdpOptions, UdpSocket};
pub use unix::{PeerCredentials, UnixSocket};
pub use unix_address::UnixAddress;
pub use unix_datagram::{UnixDatagram, UnixDatagramOptions};
pub use unix_listener::{UnixListenOptions, UnixServerSocket};
pub use write::{Write, WriteOwned};
