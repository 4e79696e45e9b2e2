//! Why a stdio→network mode answers a request itself instead of relaying
//! it: one value carrying the HTTP status, the JSON-RPC error code and the
//! message of the error response (`Front::refuse` writes it).

use supergateway_proto::jsonrpc::codes;

/// An error response decided before anything reached the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The JSON-RPC error code of the body (`id: null`).
    pub(crate) code: i32,
    /// The error message of the body.
    pub(crate) message: &'static str,
}

impl Refusal {
    /// 503: the shared child (or the session's) has exited.
    pub(crate) const CHILD_EXITED: Self = Self::server_error(503, "the MCP server has exited");
    /// 500: a per-session or per-request child could not be spawned.
    pub(crate) const CHILD_START: Self = Self::server_error(500, "could not start the MCP server");
    /// 503: `--maxSessions` sessions are open.
    pub(crate) const TOO_MANY_SESSIONS: Self = Self::server_error(503, "too many sessions");
    /// 400: a stateful request without `Mcp-Session-Id`.
    pub(crate) const SESSION_ID_REQUIRED: Self =
        Self::server_error(400, "Bad Request: Mcp-Session-Id header is required");
    /// 404: no live session has the `Mcp-Session-Id` sent.
    pub(crate) const SESSION_NOT_FOUND: Self = Self {
        status: 404,
        code: codes::SESSION_NOT_FOUND,
        message: "Session not found",
    };
    /// 400: `initialize` on a session that is already initialised.
    pub(crate) const ALREADY_INITIALIZED: Self = Self {
        status: 400,
        code: codes::INVALID_REQUEST,
        message: "Invalid Request: Server already initialized",
    };
    /// 400: a batch from a client whose revision has none.
    pub(crate) const BATCH_NOT_ALLOWED: Self = Self {
        status: 400,
        code: codes::INVALID_REQUEST,
        message: "Invalid Request: batches are only accepted from 2025-03-26 clients",
    };
    /// 409: a second standalone GET stream on one session.
    pub(crate) const STREAM_CONFLICT: Self =
        Self::server_error(409, "Conflict: Only one SSE stream is allowed per session");

    /// 403: a session opened by another caller (another bearer token).
    pub(crate) const OTHER_CALLER: Self =
        Self::server_error(403, "Forbidden: the session belongs to another caller");

    /// A refusal with the generic `SERVER_ERROR` code.
    pub(crate) const fn server_error(status: u16, message: &'static str) -> Self {
        Self {
            status,
            code: codes::SERVER_ERROR,
            message,
        }
    }
}
