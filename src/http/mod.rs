//! HTTP/1.1 on smol: the server connection driver, response writing, and the client.
//! All parsing and framing is `supergateway_proto::http`.

pub(crate) mod client;
mod live_headers;
mod read_buf;
pub(crate) mod response;
pub(crate) mod server;
pub(crate) mod stream;
pub(crate) mod tls;

pub(crate) use live_headers::{HeaderSet, LiveHeaders};
pub(crate) use read_buf::ReadBuf;
