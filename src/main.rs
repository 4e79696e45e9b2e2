//! supergateway: run MCP stdio servers over SSE, WebSocket and Streamable HTTP.
#![forbid(unsafe_code)]

fn main() {}
