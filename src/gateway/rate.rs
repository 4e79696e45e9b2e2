//! `--rateLimit` and `--trustedProxy` (issue 16, item 5): who the client is
//! (its address, from `X-Forwarded-For` behind a trusted proxy) and the
//! per-caller token buckets, driven from `Front::intercept` (HTTP) and the
//! WebSocket pump (messages).
//!
//! A bucket belongs to what authentication proved ([`Caller::identity_key`]:
//! the token, the OAuth issuer + subject, the certificate subject), or to
//! the client address when nothing was proved. IPv6 clients are counted by
//! their /64: a host is usually given a whole /64, and counting single
//! addresses would give it 2⁶⁴ buckets.

use std::cell::RefCell;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Instant;

use supergateway_proto::http::{client_address, Cidr, RequestHead};
use supergateway_proto::rate_limit::{Decision, Key, Rate, RateLimiter, Refused, DEFAULT_MAX_KEYS};

use crate::auth::Caller;

/// The message of a refusal's JSON-RPC error (HTTP 429 and WebSocket).
pub(crate) const TOO_MANY: &str = "Too Many Requests: rate limit exceeded";

/// The bucket table of one served port.
pub(crate) struct RateLimits {
    limiter: RefCell<RateLimiter>,
    /// The monotonic origin the table's times count from.
    origin: Instant,
}

thread_local! {
    /// The buckets of each `--config` server, by name: its SSE and
    /// WebSocket front doors count into the same ones.
    static BY_SERVER: RefCell<Vec<(String, Rc<RateLimits>)>> = const { RefCell::new(Vec::new()) };
}

impl RateLimits {
    /// The buckets of `server` (a `--config` server's name: made once,
    /// shared by its transports), or new ones (`None`: a single server).
    pub(crate) fn for_server(server: Option<&str>, rate: Rate) -> Rc<Self> {
        let Some(server) = server else {
            return Self::new(rate);
        };
        BY_SERVER.with(|by_server| {
            let mut by_server = by_server.borrow_mut();
            if let Some((_, limits)) = by_server.iter().find(|(name, _)| name == server) {
                return Rc::clone(limits);
            }
            let limits = Self::new(rate);
            by_server.push((server.to_owned(), Rc::clone(&limits)));
            limits
        })
    }

    pub(crate) fn new(rate: Rate) -> Rc<Self> {
        Rc::new(Self {
            limiter: RefCell::new(RateLimiter::new(rate, DEFAULT_MAX_KEYS)),
            origin: Instant::now(),
        })
    }

    /// One request (or WebSocket message) of `key`, now.
    pub(crate) fn check(&self, key: Key) -> Result<(), Refused> {
        let now = self.origin.elapsed();
        match self.limiter.borrow_mut().handle_request(key, now) {
            Decision::Allow => Ok(()),
            Decision::Refuse(refused) => Err(refused),
        }
    }

    pub(crate) fn rate(&self) -> Rate {
        self.limiter.borrow().rate()
    }
}

/// A WebSocket connection's share of the limits: its caller's bucket.
pub(crate) struct MessageLimit {
    pub(crate) limits: Rc<RateLimits>,
    pub(crate) key: Key,
}

impl MessageLimit {
    pub(crate) fn check(&self) -> Result<(), Refused> {
        self.limits.check(self.key)
    }
}

/// The bucket of `caller` coming from `client`.
pub(crate) fn key_of(caller: &Caller, client: IpAddr) -> Key {
    if let Some(identity) = caller.identity_key() {
        return Key(identity);
    }
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(b"supergateway rate key: address\0");
    match client {
        IpAddr::V4(v4) => {
            context.update(&[4]);
            context.update(&v4.octets());
        }
        IpAddr::V6(v6) => {
            context.update(&[6]);
            context.update(v6.octets().get(..8).unwrap_or_default());
        }
    }
    let mut key = [0u8; 32];
    for (out, byte) in key.iter_mut().zip(context.finish().as_ref()) {
        *out = *byte;
    }
    Key(key)
}

/// Where a request came from, for the rate limit key and the log lines.
#[derive(Clone, Copy)]
pub(crate) struct Client {
    /// The client's address: the peer's, or from `X-Forwarded-For`.
    pub(crate) address: IpAddr,
    /// The TCP peer.
    pub(crate) peer: SocketAddr,
}

impl Client {
    /// The client of a request that `peer` sent: `X-Forwarded-For` is read
    /// only with `--trustedProxy` ranges and a peer inside one.
    pub(crate) fn of(head: &RequestHead, peer: SocketAddr, trusted: &[Cidr]) -> Self {
        let address = if trusted.is_empty() {
            peer.ip().to_canonical()
        } else {
            client_address(peer.ip(), trusted, head.header_values("x-forwarded-for"))
        };
        Self { address, peer }
    }
}

/// The peer as before (`127.0.0.1:5555`), or `203.0.113.9 via
/// 127.0.0.1:5555` when a trusted proxy named another client.
impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.address == self.peer.ip().to_canonical() {
            write!(f, "{}", self.peer)
        } else {
            write!(f, "{} via {}", self.address, self.peer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(xff: &[&str]) -> RequestHead {
        let mut raw = String::from("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for value in xff {
            raw.push_str(&format!("X-Forwarded-For: {value}\r\n"));
        }
        raw.push_str("\r\n");
        let mut decoder =
            supergateway_proto::http::HeadDecoder::new(supergateway_proto::http::Limits::DEFAULT);
        decoder.decode(raw.as_bytes()).unwrap().unwrap().0
    }

    fn peer(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = [Cidr::parse("127.0.0.1").unwrap()];
        let request = head(&["203.0.113.9"]);
        let via = Client::of(&request, peer("127.0.0.1:5555"), &trusted);
        assert_eq!(via.address, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(via.to_string(), "203.0.113.9 via 127.0.0.1:5555");
        let direct = Client::of(&request, peer("127.0.0.1:5555"), &[]);
        assert_eq!(direct.to_string(), "127.0.0.1:5555");
        let stranger = Client::of(&request, peer("198.51.100.1:80"), &trusted);
        assert_eq!(stranger.to_string(), "198.51.100.1:80");
        let mapped = Client::of(&head(&[]), peer("[::ffff:127.0.0.1]:80"), &[]);
        assert_eq!(mapped.address, "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn keys_by_identity_else_by_address() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let anyone = Caller::default();
        assert!(key_of(&anyone, a) != key_of(&anyone, b));
        assert!(key_of(&anyone, a) == key_of(&anyone, a));
        // IPv6 by /64.
        let v6 = |text: &str| key_of(&anyone, text.parse().unwrap());
        assert!(v6("2001:db8::1") == v6("2001:db8::ffff:2"));
        assert!(v6("2001:db8::1") != v6("2001:db8:0:1::1"));
        // An identified caller has one bucket wherever it comes from.
        let cert = Caller {
            certificate: Some(Rc::from("CN=alice")),
            ..Caller::default()
        };
        assert!(key_of(&cert, a) == key_of(&cert, b));
        assert!(key_of(&cert, a) != key_of(&anyone, a));
    }

    #[test]
    fn buckets_refuse_past_the_burst() {
        let limits = RateLimits::new(Rate::parse("2/m").unwrap());
        let key = key_of(&Caller::default(), "192.0.2.1".parse().unwrap());
        assert!(limits.check(key).is_ok());
        assert!(limits.check(key).is_ok());
        let refused = limits.check(key).unwrap_err();
        assert!(refused.first);
        assert_eq!(refused.retry_after_secs(), 30);
        assert_eq!(limits.rate().to_string(), "2/m");
    }
}
