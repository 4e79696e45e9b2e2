//! HTTP/1.1 on smol: the server connection driver and response writing.
//! All parsing and framing is `supergateway_proto::http`.

pub(crate) mod response;
pub(crate) mod server;
