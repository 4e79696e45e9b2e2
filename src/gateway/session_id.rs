//! Session ids: 122 random bits from the OS CSPRNG, formatted as a UUID v4
//! (what the reference SDK issues; visible ASCII, as MCP requires), after
//! `ID.` when `--instanceId ID` is given.
//!
//! The instance prefix lets a load balancer route a session's later requests
//! (`POST /message?sessionId=`, `Mcp-Session-Id`, a `requestState` retry) to
//! the instance that minted it by looking at the first bytes only, without a
//! table of sessions (why the separator is `.`:
//! `request_state::INSTANCE_SEPARATOR`). Thread-local like link's settings:
//! the gateway serves on one thread, which sets it before serving.

use std::cell::RefCell;
use std::rc::Rc;

use supergateway_proto::mcp::request_state::INSTANCE_SEPARATOR;

use crate::rt;

/// `--instanceId ID`: the id, and `ID.` built once (a session's id is then
/// one copy more, not a format).
struct Instance {
    id: Rc<str>,
    prefix: Box<str>,
}

thread_local! {
    static INSTANCE: RefCell<Option<Instance>> = const { RefCell::new(None) };
}

/// Sets the instance id (checked by the CLI) the ids minted from now on
/// start with; `None`: bare UUIDs.
pub(crate) fn configure(instance_id: Option<&str>) {
    let instance = instance_id.map(|id| Instance {
        id: Rc::from(id),
        prefix: format!("{id}{INSTANCE_SEPARATOR}").into_boxed_str(),
    });
    INSTANCE.with(|cell| *cell.borrow_mut() = instance);
}

/// The configured instance id (the relays prefix their sealed
/// `requestState` tokens with it too).
pub(crate) fn instance_id() -> Option<Rc<str>> {
    INSTANCE.with(|cell| cell.borrow().as_ref().map(|instance| instance.id.clone()))
}

/// A new session id: `ID.` if configured, then 122 random bits (see
/// [`rt::random_bytes`]) as a UUID v4.
pub(crate) fn new() -> String {
    INSTANCE.with(|cell| {
        mint(
            cell.borrow()
                .as_ref()
                .map_or("", |instance| &*instance.prefix),
        )
    })
}

fn mint(prefix: &str) -> String {
    let mut bytes = rt::random_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut id = String::with_capacity(prefix.len().saturating_add(36));
    id.push_str(prefix);
    for (index, group) in [0..4, 4..6, 6..8, 8..10, 10..16].into_iter().enumerate() {
        if index > 0 {
            id.push('-');
        }
        rt::push_hex(&mut id, bytes.get(group).unwrap_or_default());
    }
    id
}

#[cfg(test)]
mod tests {
    use supergateway_proto::mcp::request_state::{check_instance_id, InstanceIdError};

    fn assert_uuid_v4(a: &str) {
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert!(a.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn uuid_v4_shape_and_uniqueness() {
        super::configure(None);
        let a = super::new();
        let b = super::new();
        assert_ne!(a, b);
        assert_uuid_v4(&a);
        assert_eq!(super::instance_id(), None);
    }

    #[test]
    fn an_instance_id_prefixes_every_id_and_can_be_unset() {
        super::configure(Some("gw-1_B"));
        assert_eq!(super::instance_id().as_deref(), Some("gw-1_B"));
        let a = super::new();
        let b = super::new();
        assert_ne!(a, b);
        for id in [&a, &b] {
            let (instance, uuid) = id.split_once('.').unwrap();
            assert_eq!(instance, "gw-1_B");
            assert_uuid_v4(uuid);
        }
        let longest = "x".repeat(32);
        super::configure(Some(&longest));
        let id = super::new();
        assert_eq!(id.len(), 32 + 1 + 36);
        assert!(id.starts_with(&format!("{longest}.")));
        // Every byte is visible ASCII, valid in a query and a header as is.
        assert!(id.bytes().all(|c| c.is_ascii_graphic()));
        super::configure(None);
        assert_uuid_v4(&super::new());
    }

    #[test]
    fn instance_ids_are_1_to_32_of_a_z_digits_underscore_and_dash() {
        for good in ["a", "B", "0", "_", "-", "pod-7d9f-x2k4q", &"z".repeat(32)] {
            assert_eq!(check_instance_id(good), Ok(()), "{good:?}");
        }
        assert_eq!(check_instance_id(""), Err(InstanceIdError::Empty));
        assert_eq!(
            check_instance_id(&"z".repeat(33)),
            Err(InstanceIdError::TooLong)
        );
        for bad in ["a.b", "a b", "a/b", "a%2e", "é", "a\n", "a+b", "a=b", "a,b"] {
            assert_eq!(
                check_instance_id(bad),
                Err(InstanceIdError::Character),
                "{bad:?}"
            );
        }
    }
}
