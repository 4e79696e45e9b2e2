//! Per-caller rate limits (`--rateLimit N/s`): one token bucket per key, in
//! a table bounded by a number of keys with least-recently-used eviction.
//!
//! Sans-IO: the caller passes the time as a monotonic [`Duration`] since an
//! origin of its choosing, and names callers by a fixed-size [`Key`] (a
//! digest it derived from an identity or an address, never a credential).
//!
//! Each bucket holds at most `N` tokens (the burst) and gains `N` per period
//! (a second or a minute); a request takes one. The arithmetic is integer
//! only: a token is `period` units (nanoseconds of the period), so the level
//! is at most `N × period` ≤ 10⁶ × 6·10¹⁰ = 6·10¹⁶ units, which fits a
//! `u64`, and the time that counts towards a refill is clamped to one period
//! (after a whole period any bucket is full) before it is multiplied, so no
//! product can overflow. Time that goes backwards refills nothing and never
//! moves a bucket's clock back.
//!
//! Eviction forgets a bucket: its key starts full when it comes back. The
//! least recently used bucket goes first, so a full table of idle keys
//! (each full again after one period) loses nothing by it; what a flood of
//! fresh keys can win is bounded by the table's size.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use supergateway_proto::rate_limit::{Decision, Key, Rate, RateLimiter};
//!
//! let rate = Rate::parse("2/s").unwrap();
//! let mut limiter = RateLimiter::new(rate, 16_384);
//! let alice = Key([1; 32]);
//! let t0 = Duration::ZERO;
//! assert_eq!(limiter.handle_request(alice, t0), Decision::Allow);
//! assert_eq!(limiter.handle_request(alice, t0), Decision::Allow);
//! let Decision::Refuse(refused) = limiter.handle_request(alice, t0) else {
//!     panic!("the third request in the same instant is over the burst");
//! };
//! assert_eq!(refused.retry_after, Duration::from_millis(500));
//! assert_eq!(refused.retry_after_secs(), 1);
//! assert!(refused.first);
//! // Half a second later one token is back.
//! let later = Duration::from_millis(500);
//! assert_eq!(limiter.handle_request(alice, later), Decision::Allow);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::num::NonZeroU64;
use std::time::Duration;

/// The default bound on the number of keys a [`RateLimiter`] remembers.
pub const DEFAULT_MAX_KEYS: usize = 16_384;

/// The largest `N` of `N/s` or `N/m`.
pub const MAX_RATE: u64 = 1_000_000;

/// Nanoseconds in a second.
const SECOND_NANOS: u64 = 1_000_000_000;

/// Who a bucket belongs to: a digest the caller derived from an identity
/// or an address (never the credential itself).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; 32]);

/// A key could be a digest of a token: never shown.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// `N` requests per period, with a burst of `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Tokens per period and the burst: 1..=[`MAX_RATE`].
    tokens: NonZeroU64,
    /// The period in nanoseconds: a second or a minute.
    period: NonZeroU64,
}

/// Why a rate did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateError {
    /// Not `N/s` or `N/m` with `N` in ASCII digits.
    Syntax,
    /// `N` is 0 or above [`MAX_RATE`].
    Range,
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "expected N/s or N/m with N a whole number",
            Self::Range => "N must be from 1 to 1000000",
        })
    }
}

impl std::error::Error for RateError {}

impl Rate {
    /// Parses `N/s` (per second) or `N/m` (per minute), `N` in 1..=1 000 000
    /// written in ASCII digits only (no sign, no spaces).
    ///
    /// ```
    /// use supergateway_proto::rate_limit::Rate;
    /// assert_eq!(Rate::parse("10/s").unwrap().burst(), 10);
    /// assert!(Rate::parse("0/s").is_err());
    /// assert!(Rate::parse("10/h").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, RateError> {
        let (count, unit) = text.split_once('/').ok_or(RateError::Syntax)?;
        let period_secs = match unit {
            "s" => 1,
            "m" => 60,
            _ => return Err(RateError::Syntax),
        };
        // At most 8 digits before parsing: longer is out of range anyway,
        // and a digits-only string of ≤ 8 bytes always fits a u64.
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RateError::Syntax);
        }
        if count.len() > 8 {
            return Err(RateError::Range);
        }
        let tokens = count.parse::<u64>().map_err(|_| RateError::Range)?;
        if tokens > MAX_RATE {
            return Err(RateError::Range);
        }
        let tokens = NonZeroU64::new(tokens).ok_or(RateError::Range)?;
        let period =
            NonZeroU64::new(SECOND_NANOS.saturating_mul(period_secs)).ok_or(RateError::Range)?;
        Ok(Self { tokens, period })
    }

    /// The burst: how many requests a fresh bucket allows at once.
    pub fn burst(&self) -> u64 {
        self.tokens.get()
    }

    /// A full bucket, in units.
    fn capacity(&self) -> u64 {
        self.tokens.get().saturating_mul(self.period.get())
    }

    /// What one request costs, in units.
    fn cost(&self) -> u64 {
        self.period.get()
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.period.get() == SECOND_NANOS {
            "s"
        } else {
            "m"
        };
        write!(f, "{}/{unit}", self.tokens)
    }
}

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Within the rate: one token was taken.
    Allow,
    /// Over the rate: nothing was taken.
    Refuse(Refused),
}

/// A refused request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    /// How long until the bucket has a token again.
    pub retry_after: Duration,
    /// The first refusal since this key's last allowed request: the one
    /// to log (once per caller per burst, not per request).
    pub first: bool,
}

impl Refused {
    /// [`Refused::retry_after`] in whole seconds, rounded up, at least 1
    /// (`Retry-After`, RFC 9110 §10.2.3, counts whole seconds).
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let up = if self.retry_after.subsec_nanos() > 0 {
            secs.saturating_add(1)
        } else {
            secs
        };
        up.max(1)
    }
}

/// The bucket table. See the module documentation.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    max_keys: usize,
    buckets: HashMap<Key, Bucket>,
    /// Keys by the stamp of their last use, oldest first: the eviction
    /// order. Invariant: exactly one entry per bucket, under its `stamp`.
    order: BTreeMap<u64, Key>,
    /// The next use's stamp (a counter, not a time: uses in the same
    /// instant still have an order).
    next_stamp: u64,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens left, in units (a token is `rate.cost()` units).
    level: u64,
    /// When `level` was last brought up to date; never moves back.
    updated: Duration,
    /// This bucket's key in `RateLimiter::order`.
    stamp: u64,
    /// Refused since the last allowed request.
    refusing: bool,
}

impl RateLimiter {
    /// A table of at most `max_keys` buckets (at least one) of `rate`.
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        Self {
            rate,
            max_keys: max_keys.max(1),
            buckets: HashMap::new(),
            order: BTreeMap::new(),
            next_stamp: 0,
        }
    }

    /// The rate every bucket has.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// No key is remembered.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Whether `key` is remembered (not evicted, or never seen).
    pub fn contains(&self, key: &Key) -> bool {
        self.buckets.contains_key(key)
    }

    /// One request by `key` at `now`: allowed (a token taken) or refused.
    pub fn handle_request(&mut self, key: Key, now: Duration) -> Decision {
        let stamp = self.next_stamp;
        // 2^64 requests do not happen; were they to, the eviction order
        // would be off, nothing else.
        self.next_stamp = self.next_stamp.wrapping_add(1);
        let rate = self.rate;
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.max_keys {
            self.evict_oldest();
        }
        let bucket = self.buckets.entry(key).or_insert_with(|| Bucket {
            level: rate.capacity(),
            updated: now,
            stamp,
            refusing: false,
        });
        self.order.remove(&bucket.stamp);
        bucket.refill(rate, now);
        bucket.stamp = stamp;
        self.order.insert(stamp, key);
        let cost = rate.cost();
        if let Some(left) = bucket.level.checked_sub(cost) {
            bucket.level = left;
            bucket.refusing = false;
            return Decision::Allow;
        }
        let first = !bucket.refusing;
        bucket.refusing = true;
        // Units missing ÷ units gained per nanosecond, rounded up.
        let missing = cost.saturating_sub(bucket.level);
        let nanos = missing.div_ceil(rate.tokens.get());
        Decision::Refuse(Refused {
            retry_after: Duration::from_nanos(nanos),
            first,
        })
    }

    fn evict_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_first() {
            self.buckets.remove(&key);
        }
    }
}

impl Bucket {
    /// Adds what the time since `updated` earned, up to a full bucket.
    fn refill(&mut self, rate: Rate, now: Duration) {
        // Backwards (or still): nothing earned, the clock stays.
        let Some(elapsed) = now.checked_sub(self.updated) else {
            return;
        };
        self.updated = now;
        // A whole period fills any bucket: clamp first, so the product
        // below is at most tokens × period, which fits (module doc).
        let period = rate.period.get();
        let elapsed = u64::try_from(elapsed.as_nanos())
            .unwrap_or(u64::MAX)
            .min(period);
        let earned = elapsed.saturating_mul(rate.tokens.get());
        self.level = self.level.saturating_add(earned).min(rate.capacity());
    }
}

#[cfg(test)]
mod tests;
