//! What a link's relay is made with, per served server: its bounds, the
//! byte budget it shares, the upstream era, and the tool filter. One
//! `Rc<RelaySettings>` per server (the runtime keeps it), so a `--config`
//! server's relays follow its own `"supergateway"` settings while a single
//! server's follow the command line.

use std::cell::RefCell;
use std::rc::Rc;

use supergateway_proto::mcp::filter::Filter;
use supergateway_proto::relay::{Budget, Limits, UpstreamMode};

use crate::cli::{Config, Output};
use crate::metrics::{self, Counters, Transport};

/// Default of `--maxBufferedBytes`.
pub(crate) const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;

thread_local! {
    /// The process-wide budget (`--maxBufferedBytes`): the relays of every
    /// server without a budget of its own, and request bodies being read.
    static PROCESS_BUDGET: RefCell<Budget> = RefCell::new(Budget::new(DEFAULT_BUDGET));
}

/// Sets the process-wide budget (before any settings are made).
pub(crate) fn set_process_budget(bytes: usize) {
    PROCESS_BUDGET.with(|budget| *budget.borrow_mut() = Budget::new(bytes));
}

/// The process-wide budget (the HTTP driver charges request bodies to it).
pub(crate) fn process_budget() -> Budget {
    PROCESS_BUDGET.with(|budget| budget.borrow().clone())
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct RelaySettings {
    /// Per-relay bounds (`--maxSessionBytes`).
    pub(crate) limits: Limits,
    /// The bytes its relays may hold: the process's, or the server's own
    /// (`maxBufferedBytes` in its `"supergateway"` object).
    pub(crate) budget: Budget,
    /// `--upstreamProtocol`.
    pub(crate) upstream: UpstreamMode,
    /// `--probeTimeout`, ms.
    pub(crate) probe_timeout_ms: u64,
    /// `--inputTimeout`, ms.
    pub(crate) input_timeout_ms: u64,
    /// The tool, prompt and resource filter; `None`: none.
    pub(crate) filter: Option<Rc<Filter>>,
    /// The server's metrics (`None`: metrics are off).
    pub(crate) metrics: Option<Rc<Counters>>,
    /// A `--config` server's `server{name}` span, which its children's
    /// log lines are in; none for a single server.
    pub(crate) span: tracing::Span,
}

/// The metrics a server served with `config` counts into: `default` for a
/// single server, the name of a `--config` server, `*` for what the
/// gateway-wide front door of `--config` sees.
pub(crate) fn counters_for(config: &Config) -> Option<Rc<Counters>> {
    let server = match &config.server_name {
        Some(name) => name.as_str(),
        None if config.servers.is_empty() => "default",
        None => "*",
    };
    metrics::counters(server, transport(config.output))
}

/// The `transport` label of an output transport.
pub(crate) fn transport(output: Output) -> Transport {
    match output {
        Output::Sse => Transport::Sse,
        Output::StreamableHttp => Transport::StreamableHttp,
        Output::Ws => Transport::Ws,
        Output::Stdio => Transport::Stdio,
    }
}

impl RelaySettings {
    /// The settings `config` asks for, `upstream` being the era to take
    /// the server to speak.
    pub(crate) fn of(config: &Config, upstream: UpstreamMode) -> Rc<Self> {
        let millis =
            |duration: std::time::Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Rc::new(Self {
            limits: Limits {
                session_bytes: config.max_session_buffered_bytes,
                ..Limits::DEFAULT
            },
            budget: if config.own_budget {
                Budget::new(config.max_buffered_bytes)
            } else {
                process_budget()
            },
            upstream,
            probe_timeout_ms: millis(config.probe_timeout),
            input_timeout_ms: millis(config.input_timeout),
            filter: (!config.filter.is_empty()).then(|| Rc::new(config.filter.clone())),
            metrics: counters_for(config),
            span: match &config.server_name {
                Some(name) => tracing::info_span!("server", %name),
                None => tracing::Span::none(),
            },
        })
    }
}
