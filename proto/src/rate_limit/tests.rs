#![allow(clippy::arithmetic_side_effects)]

use super::*;

fn key(n: u8) -> Key {
    Key([n; 32])
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn refused(decision: Decision) -> Refused {
    match decision {
        Decision::Refuse(refused) => refused,
        Decision::Allow => panic!("expected a refusal"),
    }
}

#[test]
fn accept_rates() {
    for (text, burst, shown) in [
        ("1/s", 1, "1/s"),
        ("2/s", 2, "2/s"),
        ("60/m", 60, "60/m"),
        ("1000000/s", 1_000_000, "1000000/s"),
        ("1000000/m", 1_000_000, "1000000/m"),
        ("007/s", 7, "7/s"),
    ] {
        let rate = Rate::parse(text).unwrap();
        assert_eq!(rate.burst(), burst, "{text}");
        assert_eq!(rate.to_string(), shown, "{text}");
    }
}

#[test]
fn reject_rates() {
    for (text, error) in [
        ("", RateError::Syntax),
        ("10", RateError::Syntax),
        ("/s", RateError::Syntax),
        ("10/", RateError::Syntax),
        ("10/h", RateError::Syntax),
        ("10/S", RateError::Syntax),
        ("10/sec", RateError::Syntax),
        ("10 /s", RateError::Syntax),
        (" 10/s", RateError::Syntax),
        ("+10/s", RateError::Syntax),
        ("-1/s", RateError::Syntax),
        ("1.5/s", RateError::Syntax),
        ("0x10/s", RateError::Syntax),
        ("10/s/s", RateError::Syntax),
        ("١٠/s", RateError::Syntax),
        ("0/s", RateError::Range),
        ("000/s", RateError::Range),
        ("1000001/s", RateError::Range),
        ("99999999/s", RateError::Range),
        ("999999999999999999999999/s", RateError::Range),
    ] {
        assert_eq!(Rate::parse(text), Err(error), "{text:?}");
    }
}

#[test]
fn burst_then_refusal_with_retry_after() {
    let mut limiter = RateLimiter::new(Rate::parse("3/s").unwrap(), 16);
    for _ in 0..3 {
        assert_eq!(limiter.handle_request(key(1), ms(10)), Decision::Allow);
    }
    let first = refused(limiter.handle_request(key(1), ms(10)));
    assert!(first.first);
    // One token is a third of a second away, in whole nanoseconds up.
    assert_eq!(first.retry_after, Duration::from_nanos(333_333_334));
    assert_eq!(first.retry_after_secs(), 1);
    let again = refused(limiter.handle_request(key(1), ms(110)));
    assert!(!again.first, "logged once per burst");
    assert_eq!(again.retry_after, Duration::from_nanos(233_333_334));
}

#[test]
fn refill_is_proportional_and_capped_at_the_burst() {
    let mut limiter = RateLimiter::new(Rate::parse("2/s").unwrap(), 16);
    let k = key(1);
    assert_eq!(limiter.handle_request(k, ms(0)), Decision::Allow);
    assert_eq!(limiter.handle_request(k, ms(0)), Decision::Allow);
    assert!(refused(limiter.handle_request(k, ms(499))).first);
    // 500 ms earns one token exactly.
    assert_eq!(limiter.handle_request(k, ms(500)), Decision::Allow);
    assert!(refused(limiter.handle_request(k, ms(500))).first);
    // An hour idle fills the bucket to the burst, not beyond.
    let later = Duration::from_secs(3600);
    assert_eq!(limiter.handle_request(k, later), Decision::Allow);
    assert_eq!(limiter.handle_request(k, later), Decision::Allow);
    assert!(matches!(
        limiter.handle_request(k, later),
        Decision::Refuse(_)
    ));
}

#[test]
fn per_minute_rates() {
    let mut limiter = RateLimiter::new(Rate::parse("60/m").unwrap(), 16);
    for _ in 0..60 {
        assert_eq!(limiter.handle_request(key(1), ms(0)), Decision::Allow);
    }
    let refusal = refused(limiter.handle_request(key(1), ms(0)));
    assert_eq!(refusal.retry_after, Duration::from_secs(1));
    assert_eq!(refusal.retry_after_secs(), 1);
    assert_eq!(limiter.handle_request(key(1), ms(1000)), Decision::Allow);
    // 1/m: a whole minute to wait.
    let mut slow = RateLimiter::new(Rate::parse("1/m").unwrap(), 16);
    assert_eq!(slow.handle_request(key(1), ms(0)), Decision::Allow);
    let refusal = refused(slow.handle_request(key(1), ms(1)));
    assert_eq!(refusal.retry_after, ms(59_999));
    assert_eq!(refusal.retry_after_secs(), 60);
}

#[test]
fn keys_have_separate_buckets() {
    let mut limiter = RateLimiter::new(Rate::parse("1/s").unwrap(), 16);
    assert_eq!(limiter.handle_request(key(1), ms(0)), Decision::Allow);
    assert!(matches!(
        limiter.handle_request(key(1), ms(0)),
        Decision::Refuse(_)
    ));
    assert_eq!(limiter.handle_request(key(2), ms(0)), Decision::Allow);
    assert_eq!(limiter.len(), 2);
}

#[test]
fn the_table_is_bounded_and_evicts_the_least_recently_used() {
    let mut limiter = RateLimiter::new(Rate::parse("1/s").unwrap(), 3);
    for n in 1..=3 {
        assert_eq!(limiter.handle_request(key(n), ms(0)), Decision::Allow);
    }
    // Key 1 is used again (refused: a use all the same), so 2 is oldest.
    assert!(matches!(
        limiter.handle_request(key(1), ms(1)),
        Decision::Refuse(_)
    ));
    assert_eq!(limiter.handle_request(key(4), ms(2)), Decision::Allow);
    assert_eq!(limiter.len(), 3);
    assert!(!limiter.contains(&key(2)));
    assert!(limiter.contains(&key(1)) && limiter.contains(&key(3)) && limiter.contains(&key(4)));
    // Then 3, then 1.
    assert_eq!(limiter.handle_request(key(5), ms(3)), Decision::Allow);
    assert!(!limiter.contains(&key(3)));
    assert_eq!(limiter.handle_request(key(6), ms(4)), Decision::Allow);
    assert!(!limiter.contains(&key(1)));
    // An evicted key comes back with a full bucket.
    assert_eq!(limiter.handle_request(key(1), ms(5)), Decision::Allow);
    assert_eq!(limiter.len(), 3);
}

#[test]
fn many_keys_never_exceed_the_bound() {
    let mut limiter = RateLimiter::new(Rate::parse("5/s").unwrap(), DEFAULT_MAX_KEYS);
    for n in 0..(DEFAULT_MAX_KEYS as u32 + 1000) {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(limiter.handle_request(Key(bytes), ms(0)), Decision::Allow);
        assert!(limiter.len() <= DEFAULT_MAX_KEYS);
    }
    assert_eq!(limiter.len(), DEFAULT_MAX_KEYS);
    assert_eq!(limiter.order.len(), DEFAULT_MAX_KEYS);
    // A zero bound still holds one key.
    let mut tiny = RateLimiter::new(Rate::parse("1/s").unwrap(), 0);
    assert_eq!(tiny.handle_request(key(1), ms(0)), Decision::Allow);
    assert_eq!(tiny.handle_request(key(2), ms(0)), Decision::Allow);
    assert_eq!(tiny.len(), 1);
}

#[test]
fn time_going_backwards_earns_nothing_and_keeps_the_clock() {
    let mut limiter = RateLimiter::new(Rate::parse("1/s").unwrap(), 16);
    let k = key(1);
    assert_eq!(
        limiter.handle_request(k, Duration::from_secs(10)),
        Decision::Allow
    );
    // Back to 0: no refill, and the wait is still counted from 10 s.
    let back = refused(limiter.handle_request(k, Duration::ZERO));
    assert_eq!(back.retry_after, Duration::from_secs(1));
    assert!(refused(limiter.handle_request(k, ms(10_999))).retry_after == ms(1));
    assert_eq!(
        limiter.handle_request(k, Duration::from_secs(11)),
        Decision::Allow
    );
}

#[test]
fn extreme_times_and_rates_do_not_overflow() {
    for text in ["1/s", "1000000/s", "1000000/m", "1/m"] {
        let rate = Rate::parse(text).unwrap();
        let mut limiter = RateLimiter::new(rate, 4);
        let k = key(9);
        for now in [
            Duration::ZERO,
            Duration::MAX,
            Duration::ZERO,
            Duration::from_nanos(u64::MAX),
            Duration::MAX,
        ] {
            let _ = limiter.handle_request(k, now);
        }
        // Drain the bucket at the end of time: the refusal's wait is
        // still one token's worth at most.
        let mut last = Decision::Allow;
        for _ in 0..=rate.burst() {
            last = limiter.handle_request(k, Duration::MAX);
        }
        let refusal = refused(last);
        assert!(refusal.retry_after <= Duration::from_secs(60), "{text}");
        assert!(refusal.retry_after_secs() >= 1);
    }
}

#[test]
fn retry_after_rounds_up_to_whole_seconds() {
    for (after, secs) in [
        (Duration::ZERO, 1),
        (Duration::from_nanos(1), 1),
        (Duration::from_secs(1), 1),
        (Duration::from_millis(1001), 2),
        (Duration::from_secs(60), 60),
        (Duration::MAX, u64::MAX),
    ] {
        let refused = Refused {
            retry_after: after,
            first: true,
        };
        assert_eq!(refused.retry_after_secs(), secs, "{after:?}");
    }
}

#[test]
fn keys_are_not_shown() {
    assert_eq!(format!("{:?}", key(7)), "Key(..)");
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the sequence: the table stays within its bound with one
        /// order entry per bucket; one key never gets more than its burst
        /// plus what the time that passed earned; and a refusal's
        /// `retry_after` is enough: a request that much later passes.
        #[test]
        fn buckets_keep_their_promises(
            tokens in 1u64..=20,
            per_minute in any::<bool>(),
            max_keys in 1usize..=4,
            steps in proptest::collection::vec((0u8..6, 0u64..400_000_000, any::<bool>()), 1..200),
        ) {
            let unit = if per_minute { "m" } else { "s" };
            let rate = Rate::parse(&format!("{tokens}/{unit}")).unwrap();
            let period: u128 = if per_minute { 60_000_000_000 } else { 1_000_000_000 };
            let mut limiter = RateLimiter::new(rate, max_keys);
            let mut now = Duration::ZERO;
            // One key alone in a table of its own, time only forwards:
            // what it was allowed, against what the time earned.
            let mut single = RateLimiter::new(rate, DEFAULT_MAX_KEYS);
            let mut allowed = 0u128;
            let mut single_now = Duration::ZERO;
            for (key_byte, advance, backwards) in steps {
                now = if backwards {
                    now.saturating_sub(Duration::from_nanos(advance))
                } else {
                    now + Duration::from_nanos(advance)
                };
                let decision = limiter.handle_request(key(key_byte), now);
                prop_assert!(limiter.len() <= max_keys);
                prop_assert_eq!(limiter.order.len(), limiter.len());
                if let Decision::Refuse(refused) = decision {
                    prop_assert!(refused.retry_after <= Duration::from_nanos(period as u64));
                    let later = now.max(limiter.buckets[&key(key_byte)].updated) + refused.retry_after;
                    prop_assert_eq!(limiter.handle_request(key(key_byte), later), Decision::Allow);
                    now = later;
                }
                single_now += Duration::from_nanos(advance);
                if single.handle_request(key(0), single_now) == Decision::Allow {
                    allowed += 1;
                }
                let elapsed = single_now.as_nanos();
                prop_assert!(
                    allowed * period <= u128::from(tokens) * period + u128::from(tokens) * elapsed,
                    "{} allowed in {:?} at {}", allowed, single_now, rate
                );
            }
        }
    }
}
