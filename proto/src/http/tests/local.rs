//! Accept/reject tables of the DNS-rebinding checks (`http::local`).

use crate::http::{
    is_allowed_authority, is_allowed_origin, is_local_authority, is_local_origin, is_loopback_host,
};

#[test]
fn accept_local_authorities() {
    for ok in [
        "localhost",
        "localhost:8000",
        "LOCALHOST:1",
        "LocalHost",
        "127.0.0.1",
        "127.0.0.1:1",
        "127.9.9.9:5",
        "127.0.0.1:65535",
        "localhost:00080",
        "[::1]",
        "[::1]:80",
        "[0:0:0:0:0:0:0:1]:80",
    ] {
        assert!(is_local_authority(ok), "{ok}");
    }
}

#[test]
fn reject_local_authorities() {
    for bad in [
        // Empty: HTTP/1.0 without Host; the caller decides.
        "",
        ":80",
        "[]:80",
        "evil.com",
        "evil.com:8000",
        "127.0.0.1.evil.com",
        "localhost.evil.com",
        // Trailing dots: the fully-qualified form is not matched.
        "localhost.",
        "localhost.:80",
        "127.0.0.1.",
        // Userinfo.
        "user@localhost",
        "user:pw@127.0.0.1:80",
        // Ports.
        "localhost:",
        "localhost:abc",
        "localhost:123456",
        "localhost:65536",
        "localhost:99999",
        "[::1]:99999",
        "localhost:-1",
        "localhost:+80",
        // Userinfo and garbage around the host.
        "localhost:80@evil.com",
        "localhost@evil.com",
        "[::1]@evil.com",
        "[::1]evil.com",
        "localhost/",
        "localhost?x",
        "localhost#x",
        "local%68ost",
        "localhost\t",
        "localhost:80:80",
        "localhost: 80",
        // IPv6 brackets.
        "::1",
        "[::1",
        "::1]",
        "[::1]80",
        "[::1]:",
        "[::1]junk",
        "[::2]:80",
        "[::ffff:127.0.0.1]",
        "[::1%25lo]",
        // Not loopback, or not canonical.
        "0.0.0.0",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
        " localhost",
        "localhost ",
    ] {
        assert!(!is_local_authority(bad), "{bad}");
    }
}

#[test]
fn accept_local_origins() {
    for ok in [
        "http://localhost:3000",
        "http://localhost",
        "https://127.0.0.1",
        "http://[::1]:8080",
        "https://LOCALHOST",
    ] {
        assert!(is_local_origin(ok), "{ok}");
    }
}

#[test]
fn reject_local_origins() {
    for bad in [
        "null",
        "",
        "localhost",
        "localhost:3000",
        "http://",
        "http://evil.com",
        "http://localhost.evil.com",
        "http://localhost./",
        "http://localhost.",
        "http://127.0.0.1/x",
        "http://localhost/",
        "http://user@localhost",
        "http://localhost:abc",
        "HTTP://localhost",
        "ws://localhost",
        "file://",
        "file:///etc/passwd",
        "http://[::1]junk",
        // Issue 13: userinfo that ends in a foreign host, garbage after a
        // literal, ports past 65535, queries and fragments.
        "http://localhost:80@evil.com",
        "http://localhost@evil.com",
        "http://[::1]evil.com",
        "http://[::1].evil.com",
        "http://[::1]:80@evil.com",
        "http://localhost:99999",
        "http://localhost:65536",
        "http://localhost?x",
        "http://localhost#x",
        "http://localhost\\@evil.com",
        "http:/localhost",
        "http:localhost",
        "http://localhost:80:80",
        "http:// localhost",
    ] {
        assert!(!is_local_origin(bad), "{bad}");
    }
}

#[test]
fn loopback_binds() {
    for ok in [
        "127.0.0.1",
        "127.0.0.2",
        "::1",
        "[::1]",
        "localhost",
        "LOCALHOST",
    ] {
        assert!(is_loopback_host(ok), "{ok}");
    }
    for bad in [
        "0.0.0.0",
        "192.168.1.2",
        "::",
        "[::]",
        "",
        "[::1",
        "localhost:80",
        "127.0.0.1:80",
        "example.com",
    ] {
        assert!(!is_loopback_host(bad), "{bad}");
    }
}

#[test]
fn allowed_names_extend_the_local_ones() {
    let allowed = ["mcp.example.com", "Proxy.Internal"];
    for ok in [
        "mcp.example.com",
        "MCP.EXAMPLE.COM:443",
        "proxy.internal:8080",
        "localhost:3000",
        "[::1]",
    ] {
        assert!(is_allowed_authority(ok, &allowed), "{ok}");
        assert!(
            is_allowed_origin(&format!("https://{ok}"), &allowed),
            "{ok}"
        );
    }
    for bad in [
        "evil.com",
        "mcp.example.com.evil.com",
        "evil.mcp.example.com",
        "mcp.example.co",
        "mcp.example.com:99999",
        "user@mcp.example.com",
        "mcp.example.com@evil.com",
        "evil.com@mcp.example.com",
        "mcp.example.com.",
        "",
    ] {
        assert!(!is_allowed_authority(bad, &allowed), "{bad}");
        assert!(
            !is_allowed_origin(&format!("https://{bad}"), &allowed),
            "{bad}"
        );
    }
    for bad in [
        "https://mcp.example.com/",
        "https://mcp.example.com/path",
        "ftp://mcp.example.com",
        "mcp.example.com",
    ] {
        assert!(!is_allowed_origin(bad, &allowed), "{bad}");
    }
    // Without the names, the public one is not local.
    assert!(!is_allowed_authority("mcp.example.com", &[] as &[&str]));
    assert!(!is_local_authority("mcp.example.com"));
}
