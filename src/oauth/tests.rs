//! Tests of the OAuth driver's I/O pieces: the store (paths, modes, atomic
//! writes, the lock), the loopback listener, the fetcher.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use futures_lite::future;
use supergateway_proto::url::Url;

use super::fetch::{FetchError, Fetcher};
use super::loopback::{Loopback, LoopbackError, MAX_CONNECTIONS};
use super::store::{file_name, ClientKind, ClientRecord, Record, Store, StoreError, Tokens};
use super::Secret;
use crate::rt;

/// A fresh private temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let mut name = format!("sg-oauth-{tag}-{}-", std::process::id());
        rt::push_hex(&mut name, &rt::random_bytes());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn sample_record() -> Record {
    Record {
        issuer: "http://127.0.0.1:9/".into(),
        resource: "http://127.0.0.1:9/mcp".into(),
        client: Some(ClientRecord {
            client_id: "client-1".into(),
            client_secret: Some(Secret::new("s3cret:x y".into())),
            auth_method: "client_secret_basic".into(),
            redirect_uri: Some("http://127.0.0.1:4567/callback".into()),
            registered_at: 1_800_000_000,
            secret_expires_at: Some(0),
            kind: ClientKind::Dcr,
        }),
        tokens: Some(Tokens {
            access_token: Secret::new("at-1".into()),
            token_type: "Bearer".into(),
            expires_at: 1_800_003_600,
            refresh_token: Some(Secret::new("rt-1".into())),
            scope: Some("mcp:basic".into()),
            requested_scope: Some("mcp:basic offline_access".into()),
        }),
    }
}

// ---- store ----

#[test]
fn file_names_are_host_and_hash() {
    // The hex digits: SHA-256 of issuer "\n" resource, first 8 bytes
    // (computed independently with Python's hashlib).
    assert_eq!(
        file_name(
            "https://AS.example.com:8443/tenant_1",
            "https://mcp.example.com/mcp"
        ),
        "as.example.com-6f783e205d53cd81"
    );
    assert_eq!(
        file_name("http://127.0.0.1:9/", "http://127.0.0.1:9/mcp"),
        "127.0.0.1-042229e2c30ad7d5"
    );
    // IPv6 brackets and colons are not kept; an unparsable issuer still
    // gets a name without a separator.
    let v6 = file_name("http://[::1]:9/", "http://[::1]:9/mcp");
    assert!(v6.starts_with("___1_-") || v6.starts_with("__1-"), "{v6}");
    for issuer in ["../../etc/passwd", "", "https://a/b/../../c"] {
        let name = file_name(issuer, "r");
        assert!(
            !name.contains('/') && !name.starts_with('.'),
            "{issuer:?} → {name}"
        );
        assert_eq!(name.rsplit_once('-').unwrap().1.len(), 16);
    }
    assert_ne!(file_name("https://a", "r1"), file_name("https://a", "r2"));
}

#[test]
fn store_directory_is_created_private_and_checked() {
    let tmp = TempDir::new("dir");
    let dir = tmp.0.join("config").join("supergateway").join("oauth");
    let store = Store::in_dir(&dir).unwrap();
    assert_eq!(store.dir(), Some(dir.as_path()));
    for path in [
        tmp.0.join("config"),
        tmp.0.join("config/supergateway"),
        dir.clone(),
    ] {
        assert_eq!(mode(&path), 0o700, "{}", path.display());
    }
    // Writable by others: refused.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(
        Store::in_dir(&dir),
        Err(StoreError::NotPrivate("writable by group or other"))
    ));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A symlink to a private directory: refused.
    let link = tmp.0.join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    assert!(matches!(
        Store::in_dir(&link),
        Err(StoreError::NotPrivate("not a directory (or a symlink)"))
    ));
}

#[test]
fn records_round_trip_atomically_with_mode_0600() {
    let tmp = TempDir::new("rw");
    let store = Store::in_dir(&tmp.0).unwrap();
    let record = sample_record();
    rt::block_on(async {
        let locked = store
            .lock(&record.issuer, &record.resource, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(locked.read().unwrap(), None);
        locked.write(&record).unwrap();
        assert_eq!(locked.read().unwrap(), Some(record.clone()));
        // Replace with the tokens wiped (invalid_grant keeps the client).
        let mut wiped = record.clone();
        wiped.tokens = None;
        locked.write(&wiped).unwrap();
        assert_eq!(locked.read().unwrap(), Some(wiped));
    });
    let name = file_name(&record.issuer, &record.resource);
    let file = tmp.0.join(format!("{name}.json"));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&tmp.0.join(format!("{name}.lock"))), 0o600);
    // Exactly the file and its lock: no temp file left behind.
    let mut entries: Vec<String> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, [format!("{name}.json"), format!("{name}.lock")]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        "{\"client\":{\"auth_method\":\"client_secret_basic\",\"client_id\":\"client-1\",\
         \"client_secret\":\"s3cret:x y\",\"kind\":\"dcr\",\
         \"redirect_uri\":\"http://127.0.0.1:4567/callback\",\"registered_at\":1800000000,\
         \"secret_expires_at\":0},\"issuer\":\"http://127.0.0.1:9/\",\
         \"resource\":\"http://127.0.0.1:9/mcp\",\"version\":1}\n"
    );
    // Remove (invalid_client): the file goes, the lock stays.
    rt::block_on(async {
        let locked = store
            .lock(&record.issuer, &record.resource, Duration::from_secs(5))
            .await
            .unwrap();
        locked.remove().unwrap();
        assert_eq!(locked.read().unwrap(), None);
        locked.remove().unwrap();
    });
    assert!(!file.exists());
}

#[test]
fn unsafe_or_foreign_files_are_ignored() {
    let tmp = TempDir::new("ignore");
    let store = Store::in_dir(&tmp.0).unwrap();
    let record = sample_record();
    let name = file_name(&record.issuer, &record.resource);
    let file = tmp.0.join(format!("{name}.json"));
    rt::block_on(async {
        let locked = store
            .lock(&record.issuer, &record.resource, Duration::from_secs(5))
            .await
            .unwrap();
        locked.write(&record).unwrap();
        // Readable by the group: ignored.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(locked.read().unwrap(), None);
        // Private again, but not a record of ours.
        for garbage in [
            &b"not json"[..],
            b"{\"version\":2,\"issuer\":\"i\",\"resource\":\"r\"}",
            b"{\"version\":1,\"issuer\":\"i\"}",
            b"{\"version\":1,\"issuer\":\"i\",\"resource\":\"r\",\"tokens\":{\"access_token\":1}}",
        ] {
            std::fs::write(&file, garbage).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(locked.read().unwrap(), None);
        }
        // Over 64 KiB.
        std::fs::write(&file, vec![b' '; 64 * 1024 + 1]).unwrap();
        assert_eq!(locked.read().unwrap(), None);
        // A symlink to a good record: not followed.
        let elsewhere = tmp.0.join("elsewhere.json");
        std::fs::remove_file(&file).unwrap();
        locked.write(&record).unwrap();
        std::fs::rename(&file, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        assert_eq!(locked.read().unwrap(), None);
        // A write replaces the symlink itself (rename), not its target.
        let mut other = record.clone();
        other.tokens = None;
        locked.write(&other).unwrap();
        assert_eq!(locked.read().unwrap(), Some(other));
        assert!(std::fs::symlink_metadata(&file)
            .unwrap()
            .file_type()
            .is_file());
    });
}

#[test]
fn lock_excludes_a_second_holder_until_dropped() {
    let tmp = TempDir::new("lock");
    // Two stores on one directory: two bridges.
    let first = Store::in_dir(&tmp.0).unwrap();
    let second = Store::in_dir(&tmp.0).unwrap();
    rt::block_on(async {
        let held = first
            .lock("https://as", "https://mcp/", Duration::from_secs(5))
            .await
            .unwrap();
        let waited = second
            .lock("https://as", "https://mcp/", Duration::from_millis(250))
            .await;
        assert!(matches!(waited, Err(StoreError::Timeout)));
        // Another (issuer, resource) is another lock.
        let other = second
            .lock("https://as", "https://other/", Duration::from_millis(250))
            .await;
        assert!(other.is_ok());
        // The waiter gets it once the holder lets go, and sees its write.
        let mut record = sample_record();
        record.issuer = "https://as".into();
        held.write(&record).unwrap();
        let (_, got) = future::zip(
            async {
                future::yield_now().await;
                drop(held);
            },
            second.lock("https://as", "https://mcp/", Duration::from_secs(5)),
        )
        .await;
        assert_eq!(got.unwrap().read().unwrap(), Some(record));
    });
}

#[test]
fn memory_store_keeps_records_per_key() {
    let store = Store::memory();
    assert_eq!(store.dir(), None);
    let record = sample_record();
    rt::block_on(async {
        let locked = store
            .lock(&record.issuer, &record.resource, Duration::ZERO)
            .await
            .unwrap();
        locked.write(&record).unwrap();
        drop(locked);
        let again = store
            .lock(&record.issuer, &record.resource, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(again.read().unwrap(), Some(record.clone()));
        let other = store
            .lock(&record.issuer, "http://elsewhere/", Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(other.read().unwrap(), None);
        again.remove().unwrap();
        assert_eq!(again.read().unwrap(), None);
    });
}

#[test]
fn secrets_do_not_show_in_debug() {
    let shown = format!("{:?}", sample_record());
    for secret in ["s3cret", "at-1", "rt-1"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

// ---- loopback ----

/// Sends `request` to 127.0.0.1:`port` and returns the whole answer.
async fn send_raw(port: u16, request: &[u8]) -> String {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let mut stream = smol::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8(answer).unwrap()
}

fn status_line(answer: &str) -> &str {
    answer.split("\r\n").next().unwrap()
}

#[test]
fn loopback_returns_only_the_callback_with_our_state() {
    rt::block_on(async {
        let loopback = Loopback::bind(0).await.unwrap();
        let port = loopback.port();
        assert_ne!(port, 0);
        assert_eq!(
            loopback.redirect_uri(),
            format!("http://127.0.0.1:{port}/callback")
        );
        let host = format!("Host: 127.0.0.1:{port}\r\n");
        let get = |target: &str| format!("GET {target} HTTP/1.1\r\n{host}\r\n").into_bytes();
        let long = format!("/callback?state=st-1&x={}", "a".repeat(9000));
        let (callback, answers) =
            future::zip(loopback.wait("st-1", Duration::from_secs(30)), async {
                let mut answers = Vec::new();
                for request in [
                    get("/callback?state=other&code=c"),
                    get("/other?state=st-1&code=c"),
                    get("/callback?code=c"),
                    get("/callback?state=st-1&state=st-1&code=c"),
                    format!(
                        "POST /callback?state=st-1 HTTP/1.1\r\n{host}content-length: 0\r\n\r\n"
                    )
                    .into_bytes(),
                    get(&long),
                    b"garbage\r\n\r\n".to_vec(),
                    get("/callback?code=the%20code&state=st-1&iss=http%3A%2F%2Fas"),
                ] {
                    answers.push(send_raw(port, &request).await);
                }
                answers
            })
            .await;
        let callback = callback.unwrap();
        assert_eq!(
            callback.target(),
            "/callback?code=the%20code&state=st-1&iss=http%3A%2F%2Fas"
        );
        assert_eq!(
            callback.query(),
            "code=the%20code&state=st-1&iss=http%3A%2F%2Fas"
        );
        assert_eq!(format!("{callback:?}"), "Callback(…)");
        let (last, refused) = answers.split_last().unwrap();
        for answer in refused {
            assert_eq!(status_line(answer), "HTTP/1.1 400 Bad Request", "{answer}");
            assert!(answer.contains("not the authorization response"));
        }
        assert_eq!(status_line(last), "HTTP/1.1 200 OK");
        assert!(last.contains("\r\nreferrer-policy: no-referrer\r\n"));
        assert!(last.contains("\r\ncache-control: no-store\r\n"));
        assert!(last.ends_with("return to the terminal.</p>\n"));
        // The listener is done: nothing is served after the callback.
        drop(loopback);
        assert!(smol::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err());
    });
}

#[test]
fn loopback_gives_up_after_the_connection_cap() {
    rt::block_on(async {
        let loopback = Loopback::bind(0).await.unwrap();
        let port = loopback.port();
        let (result, ()) = future::zip(loopback.wait("st", Duration::from_secs(30)), async {
            for _ in 0..MAX_CONNECTIONS {
                send_raw(port, b"GET /callback?state=no HTTP/1.1\r\nHost: x\r\n\r\n").await;
            }
        })
        .await;
        assert!(matches!(result, Err(LoopbackError::TooManyConnections)));
    });
}

#[test]
fn loopback_times_out_and_a_silent_connection_does_not_hold_it() {
    rt::block_on(async {
        let loopback = Loopback::bind(0).await.unwrap();
        let result = loopback.wait("st", Duration::from_millis(200)).await;
        assert!(matches!(result, Err(LoopbackError::Timeout)));
        // A connection that sends nothing is dropped after the head
        // timeout (5 s) and the next one is served.
        let port = loopback.port();
        let silent = smol::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (result, answer) = future::zip(loopback.wait("st", Duration::from_secs(30)), async {
            send_raw(
                port,
                b"GET /callback?state=st&code=c HTTP/1.1\r\nHost: x\r\n\r\n",
            )
            .await
        })
        .await;
        drop(silent);
        assert_eq!(result.unwrap().target(), "/callback?state=st&code=c");
        assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
    });
}

#[test]
fn loopback_fixed_port_in_use_is_a_bind_error() {
    rt::block_on(async {
        let first = Loopback::bind(0).await.unwrap();
        let second = Loopback::bind(first.port()).await;
        assert!(matches!(second, Err(LoopbackError::Bind(_))));
    });
}

// ---- fetch ----

/// A server that answers each connection with the next canned response
/// and reports each request's bytes.
fn canned(responses: Vec<Vec<u8>>) -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for response in responses {
            let (mut stream, _) = listener.accept().unwrap();
            let request = read_request(&mut stream);
            tx.send(request).unwrap();
            if !response.is_empty() {
                let _ = stream.write_all(&response);
            } else {
                // Never answer: hold the connection until the client goes.
                let _ = stream.read(&mut [0u8; 1]);
            }
        }
    });
    (base, rx)
}

fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap() == 0 {
            return buf;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    buf.extend_from_slice(&body);
    buf
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn fetch_get_json_and_its_failures() {
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(64 * 1024));
    let (base, requests) = canned(vec![
        response(
            "200 OK",
            "application/json; charset=utf-8",
            "{\"issuer\":\"i\"}",
        ),
        response("302 Found", "application/json", "{}"),
        response("404 Not Found", "application/json", "{}"),
        response("200 OK", "text/html", "{}"),
        response("200 OK", "application/json", &big),
    ]);
    let url = Url::parse(&format!("{base}/.well-known/oauth-protected-resource/mcp")).unwrap();
    let fetcher = Fetcher::new().unwrap();
    rt::block_on(async {
        let body = fetcher
            .get_json(&url, &[("mcp-protocol-version", b"2026-07-28")])
            .await
            .unwrap();
        assert_eq!(body, b"{\"issuer\":\"i\"}");
        let authority = base.strip_prefix("http://").unwrap();
        assert_eq!(
            String::from_utf8(requests.recv().unwrap()).unwrap(),
            format!(
                "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nhost: {authority}\r\n\
                 accept: application/json\r\nmcp-protocol-version: 2026-07-28\r\n\r\n"
            )
        );
        let results = [
            fetcher.get_json(&url, &[]).await,
            fetcher.get_json(&url, &[]).await,
            fetcher.get_json(&url, &[]).await,
            fetcher.get_json(&url, &[]).await,
        ];
        let shown: Vec<String> = results
            .iter()
            .map(|result| match result {
                Err(err) => err.to_string(),
                Ok(_) => "ok".to_owned(),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "redirected (302; redirects are not followed)",
                "answered 404",
                "answered 200 without a JSON content type",
                "answer larger than 64 KiB",
            ]
        );
        assert!(matches!(results[0], Err(FetchError::Redirect(302))));
        assert!(matches!(results[3], Err(FetchError::TooLarge)));
    });
}

#[test]
fn fetch_post_returns_error_answers_and_sends_exact_bytes() {
    let (base, requests) = canned(vec![response(
        "400 Bad Request",
        "application/json",
        "{\"error\":\"invalid_grant\"}",
    )]);
    let url = Url::parse(&format!("{base}/token")).unwrap();
    let fetcher = Fetcher::new().unwrap();
    rt::block_on(async {
        let answer = fetcher
            .post(
                &url,
                "application/x-www-form-urlencoded",
                b"grant_type=refresh_token&refresh_token=rt-9",
                Some(b"Basic Y2xpZW50OnNlY3JldA=="),
            )
            .await
            .unwrap();
        assert_eq!(answer.status, 400);
        assert!(answer.json);
        assert_eq!(answer.body, b"{\"error\":\"invalid_grant\"}");
        // Debug shows no body byte.
        assert_eq!(
            format!("{answer:?}"),
            "Answer { status: 400, json: true, body_bytes: 25 }"
        );
    });
    let authority = base.strip_prefix("http://").unwrap();
    assert_eq!(
        String::from_utf8(requests.recv().unwrap()).unwrap(),
        format!(
            "POST /token HTTP/1.1\r\nhost: {authority}\r\naccept: application/json\r\n\
             content-type: application/x-www-form-urlencoded\r\n\
             authorization: Basic Y2xpZW50OnNlY3JldA==\r\ncontent-length: 43\r\n\r\n\
             grant_type=refresh_token&refresh_token=rt-9"
        )
    );
}

#[test]
fn fetch_times_out_on_a_silent_server() {
    let (base, requests) = canned(vec![Vec::new()]);
    let url = Url::parse(&format!("{base}/slow")).unwrap();
    let fetcher = Fetcher::new()
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    rt::block_on(async {
        let result = fetcher.get_json(&url, &[]).await;
        assert!(matches!(result, Err(FetchError::Timeout)), "{result:?}");
    });
    assert!(requests
        .recv()
        .unwrap()
        .starts_with(b"GET /slow HTTP/1.1\r\n"));
}

#[test]
fn an_https_server_cannot_send_the_fetcher_to_plain_http_on_this_machine() {
    // A listener that would record any connection: none may come.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = Url::parse(&format!("http://127.0.0.1:{port}/admin")).unwrap();
    let remote = Fetcher::new()
        .unwrap()
        .for_server(&Url::parse("https://mcp.example/mcp").unwrap());
    let result = rt::block_on(remote.get_json(&target, &[]));
    assert!(matches!(result, Err(FetchError::PlainHttp)), "{result:?}");
    assert!(listener.accept().is_err(), "the fetcher connected");
    // A plain-http (local) MCP server may name a plain-http authorization server: the
    // fetcher tries (here a closed port, so the attempt fails at connect).
    drop(listener);
    let local = Fetcher::new()
        .unwrap()
        .for_server(&Url::parse("http://127.0.0.1:1/mcp").unwrap());
    let result = rt::block_on(local.get_json(&target, &[]));
    assert!(matches!(result, Err(FetchError::Http(_))), "{result:?}");
}
