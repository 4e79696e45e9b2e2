//! The token store: one JSON file per (issuer, resource) under
//! `$XDG_CONFIG_HOME/supergateway/oauth/` (`$HOME/.config/…` when unset), so
//! a bridge started again, or a second bridge next to it, reuses the
//! registration and tokens instead of opening the browser again.
//!
//! - **Directory**: each missing component is created with mode 0700; an
//!   existing one must be a real directory (not a symlink) owned by this
//!   user and not writable by group or other. Otherwise the store is not
//!   used (one warning) and tokens live in memory for this process only.
//! - **Files**: `<host>-<hex16>.json`: the issuer's host with anything
//!   outside `[a-z0-9.-]` replaced by `_` (so `ls` says whose it is), and
//!   the first 16 hex digits of SHA-256(issuer ‖ "\n" ‖ resource) (a fixed
//!   length, no path injection whatever the issuer says).
//! - **Writes** are atomic: a fresh temp file in the same directory
//!   (`O_CREAT|O_EXCL`, 0600), written, fsynced, renamed over the target,
//!   then the directory fsynced. A crash leaves the old file or the new one.
//! - **Reads** follow no symlink and ignore (with a warning) a file that is
//!   not ours, is readable by group or other, is over 64 KiB or is not a
//!   record we wrote.
//! - **Lock**: `<file>.lock` (0600, never removed) held with `flock(LOCK_EX)`
//!   around every read-modify-write. Taken with `LOCK_NB` and retried every
//!   100 ms, so the executor never blocks, up to the caller's timeout; a
//!   waiter logs once. Two bridges whose tokens expire together therefore
//!   refresh once: the second re-reads under the lock and finds the first
//!   one's token.
//!
//! Nothing read from a file is logged: it holds tokens and client secrets.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::{DirBuilder, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use rustix::fs::{FlockOperation, Mode, OFlags};
use serde_json::{json, Map, Value};
use supergateway_proto::url::Url;

use crate::oauth::Secret;
use crate::rt;

/// The largest token file read.
pub(crate) const MAX_FILE_BYTES: u64 = 64 * 1024;

/// How often a busy lock is tried again.
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// The record format written (and the only one read).
const VERSION: u64 = 1;

/// Where registrations and tokens are kept.
#[derive(Clone)]
pub(crate) struct Store {
    backing: Backing,
}

#[derive(Clone)]
enum Backing {
    /// The checked private directory.
    Dir(PathBuf),
    /// No usable directory: records by file name, for this process only.
    Memory(Rc<RefCell<HashMap<String, Record>>>),
}

/// The store's file for one (issuer, resource), locked: read, write or
/// remove it; the lock is released on drop.
pub(crate) struct Locked<'a> {
    store: &'a Store,
    name: String,
    /// The locked `.lock` file (none for the in-memory store, whose
    /// callers are serialised by the authorizer's own mutex).
    _lock: Option<File>,
}

/// What is stored for one (issuer, resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// The authorization server's issuer, as the PRM named it.
    pub(crate) issuer: String,
    /// The PRM's `resource`, byte for byte.
    pub(crate) resource: String,
    pub(crate) client: Option<ClientRecord>,
    pub(crate) tokens: Option<Tokens>,
}

/// The OAuth client used with this issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientRecord {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub(crate) auth_method: String,
    /// The redirect URI registered (dynamic registration).
    pub(crate) redirect_uri: Option<String>,
    /// Unix seconds.
    pub(crate) registered_at: u64,
    /// Unix seconds; `None` or 0: never expires (RFC 7591 §3.2.1).
    pub(crate) secret_expires_at: Option<u64>,
    pub(crate) kind: ClientKind,
}

/// How the client id came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientKind {
    /// A client ID metadata document URL (`--oauthClientMetadataUrl`).
    Cimd,
    /// Dynamic client registration (RFC 7591).
    Dcr,
    /// `--oauthClientId`.
    Preregistered,
}

/// The tokens held for this (issuer, resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tokens {
    pub(crate) access_token: Secret,
    pub(crate) token_type: String,
    /// Unix seconds.
    pub(crate) expires_at: u64,
    pub(crate) refresh_token: Option<Secret>,
    /// The scope granted, when the AS said.
    pub(crate) scope: Option<String>,
    /// The scope asked for (step-up unions with it).
    pub(crate) requested_scope: Option<String>,
}

/// Why the store could not be used.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// A file system call failed (what was being done, the error).
    Io(&'static str, io::Error),
    /// The directory is not private (what is wrong with it).
    NotPrivate(&'static str),
    /// Another process held the lock past the timeout.
    Timeout,
}

impl Store {
    /// The store under `$XDG_CONFIG_HOME` (or `$HOME/.config`), or an
    /// in-memory one with a warning when neither gives a usable private
    /// directory.
    pub(crate) fn from_env() -> Self {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|path| path.is_absolute())
                    .map(|home| home.join(".config"))
            });
        let Some(base) = base else {
            tracing::warn!(
                "oauth: neither XDG_CONFIG_HOME nor HOME is set: tokens are kept in memory only"
            );
            return Self::memory();
        };
        let dir = base.join("supergateway").join("oauth");
        match Self::in_dir(&dir) {
            Ok(store) => store,
            Err(err) => {
                tracing::warn!(
                    "oauth: not using {} ({err}): tokens are kept in memory only",
                    dir.display()
                );
                Self::memory()
            }
        }
    }

    /// The store in `dir`, created (0700 for each missing component) and
    /// checked: a real directory, ours, not writable by group or other.
    pub(crate) fn in_dir(dir: &Path) -> Result<Self, StoreError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|err| StoreError::Io("cannot create the directory", err))?;
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|err| StoreError::Io("cannot inspect the directory", err))?;
        if !meta.file_type().is_dir() {
            return Err(StoreError::NotPrivate("not a directory (or a symlink)"));
        }
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(StoreError::NotPrivate("owned by another user"));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(StoreError::NotPrivate("writable by group or other"));
        }
        Ok(Self {
            backing: Backing::Dir(dir.to_path_buf()),
        })
    }

    /// A store that keeps records in this process only.
    pub(crate) fn memory() -> Self {
        Self {
            backing: Backing::Memory(Rc::default()),
        }
    }

    /// The directory, when the store has one.
    #[allow(dead_code)] // API: tests, and the bridge's startup line
    pub(crate) fn dir(&self) -> Option<&Path> {
        match &self.backing {
            Backing::Dir(dir) => Some(dir),
            Backing::Memory(_) => None,
        }
    }

    /// Locks the file of (`issuer`, `resource`), waiting up to `timeout`
    /// for another process that holds it (logged once).
    pub(crate) async fn lock(
        &self,
        issuer: &str,
        resource: &str,
        timeout: Duration,
    ) -> Result<Locked<'_>, StoreError> {
        let name = file_name(issuer, resource);
        let Backing::Dir(dir) = &self.backing else {
            return Ok(Locked {
                store: self,
                name,
                _lock: None,
            });
        };
        let path = dir.join(format!("{name}.lock"));
        let fd = rustix::fs::open(
            &path,
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|err| StoreError::Io("cannot open the lock file", err.into()))?;
        let file = File::from(fd);
        let deadline = Instant::now().checked_add(timeout);
        let mut logged = false;
        loop {
            match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR) => {}
                Err(err) => return Err(StoreError::Io("cannot lock the lock file", err.into())),
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(StoreError::Timeout);
            }
            if !logged {
                logged = true;
                tracing::info!(
                    "oauth: waiting for another supergateway to finish authorising with {issuer}"
                );
            }
            Timer::after(LOCK_RETRY).await;
        }
        Ok(Locked {
            store: self,
            name,
            _lock: Some(file),
        })
    }
}

impl Locked<'_> {
    /// The record, if there is a usable one. A file that is not ours, too
    /// open, too large or unreadable as a record is ignored with a warning
    /// (and replaced by the next write).
    pub(crate) fn read(&self) -> Result<Option<Record>, StoreError> {
        let dir = match &self.store.backing {
            Backing::Dir(dir) => dir,
            Backing::Memory(map) => return Ok(map.borrow().get(&self.name).cloned()),
        };
        let path = dir.join(format!("{}.json", self.name));
        let fd = match rustix::fs::open(
            &path,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(err) => {
                tracing::warn!(
                    "oauth: ignoring {}: {}",
                    path.display(),
                    io::Error::from(err)
                );
                return Ok(None);
            }
        };
        let file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|err| StoreError::Io("cannot inspect a token file", err))?;
        let why = if !meta.file_type().is_file() {
            Some("not a regular file")
        } else if meta.uid() != rustix::process::geteuid().as_raw() {
            Some("owned by another user")
        } else if meta.mode() & 0o077 != 0 {
            Some("readable or writable by group or other")
        } else if meta.len() > MAX_FILE_BYTES {
            Some("larger than 64 KiB")
        } else {
            None
        };
        if let Some(why) = why {
            tracing::warn!("oauth: ignoring {}: {why}", path.display());
            return Ok(None);
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|err| StoreError::Io("cannot read a token file", err))?;
        match Record::from_json(&bytes) {
            Some(record) => Ok(Some(record)),
            None => {
                tracing::warn!("oauth: ignoring {}: not a token record", path.display());
                Ok(None)
            }
        }
    }

    /// Replaces the record, atomically.
    pub(crate) fn write(&self, record: &Record) -> Result<(), StoreError> {
        let dir = match &self.store.backing {
            Backing::Dir(dir) => dir,
            Backing::Memory(map) => {
                map.borrow_mut().insert(self.name.clone(), record.clone());
                return Ok(());
            }
        };
        let target = dir.join(format!("{}.json", self.name));
        let mut suffix = String::new();
        rt::push_hex(&mut suffix, &rt::random_bytes());
        let temp = dir.join(format!(".{}.{suffix}.tmp", self.name));
        let written = (|| {
            // O_EXCL: never an existing file, never through a symlink.
            let fd = rustix::fs::open(
                &temp,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let mut file = File::from(fd);
            file.write_all(&record.to_json())?;
            file.sync_all()?;
            std::fs::rename(&temp, &target)?;
            File::open(dir)?.sync_all()
        })();
        if let Err(err) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(StoreError::Io("cannot write a token file", err));
        }
        Ok(())
    }

    /// Removes the record (registration included).
    pub(crate) fn remove(&self) -> Result<(), StoreError> {
        let dir = match &self.store.backing {
            Backing::Dir(dir) => dir,
            Backing::Memory(map) => {
                map.borrow_mut().remove(&self.name);
                return Ok(());
            }
        };
        match std::fs::remove_file(dir.join(format!("{}.json", self.name))) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(StoreError::Io("cannot remove a token file", err)),
        }
    }
}

impl Record {
    /// A record with neither client nor tokens.
    pub(crate) fn new(issuer: &str, resource: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            resource: resource.to_owned(),
            client: None,
            tokens: None,
        }
    }

    /// The file's bytes.
    fn to_json(&self) -> Vec<u8> {
        let mut root = Map::new();
        root.insert("version".into(), json!(VERSION));
        root.insert("issuer".into(), json!(self.issuer));
        root.insert("resource".into(), json!(self.resource));
        if let Some(client) = &self.client {
            let mut out = Map::new();
            out.insert("client_id".into(), json!(client.client_id));
            if let Some(secret) = &client.client_secret {
                out.insert("client_secret".into(), json!(secret.expose()));
            }
            out.insert("auth_method".into(), json!(client.auth_method));
            if let Some(uri) = &client.redirect_uri {
                out.insert("redirect_uri".into(), json!(uri));
            }
            out.insert("registered_at".into(), json!(client.registered_at));
            if let Some(at) = client.secret_expires_at {
                out.insert("secret_expires_at".into(), json!(at));
            }
            out.insert("kind".into(), json!(client.kind.as_str()));
            root.insert("client".into(), Value::Object(out));
        }
        if let Some(tokens) = &self.tokens {
            let mut out = Map::new();
            out.insert("access_token".into(), json!(tokens.access_token.expose()));
            out.insert("token_type".into(), json!(tokens.token_type));
            out.insert("expires_at".into(), json!(tokens.expires_at));
            if let Some(refresh) = &tokens.refresh_token {
                out.insert("refresh_token".into(), json!(refresh.expose()));
            }
            if let Some(scope) = &tokens.scope {
                out.insert("scope".into(), json!(scope));
            }
            if let Some(scope) = &tokens.requested_scope {
                out.insert("requested_scope".into(), json!(scope));
            }
            root.insert("tokens".into(), Value::Object(out));
        }
        let mut bytes = Value::Object(root).to_string().into_bytes();
        bytes.push(b'\n');
        bytes
    }

    /// Reads a file's bytes; `None` unless it is a version-1 record whose
    /// required fields are present with the right types.
    fn from_json(bytes: &[u8]) -> Option<Self> {
        let root: Value = serde_json::from_slice(bytes).ok()?;
        if root.get("version")?.as_u64()? != VERSION {
            return None;
        }
        let client = match root.get("client") {
            None | Some(Value::Null) => None,
            Some(client) => Some(ClientRecord {
                client_id: string(client, "client_id")?,
                client_secret: optional(client, "client_secret")?.map(Secret::new),
                auth_method: string(client, "auth_method")?,
                redirect_uri: optional(client, "redirect_uri")?,
                registered_at: client.get("registered_at")?.as_u64()?,
                secret_expires_at: match client.get("secret_expires_at") {
                    None | Some(Value::Null) => None,
                    Some(at) => Some(at.as_u64()?),
                },
                kind: ClientKind::parse(client.get("kind")?.as_str()?)?,
            }),
        };
        let tokens = match root.get("tokens") {
            None | Some(Value::Null) => None,
            Some(tokens) => Some(Tokens {
                access_token: Secret::new(string(tokens, "access_token")?),
                token_type: string(tokens, "token_type")?,
                expires_at: tokens.get("expires_at")?.as_u64()?,
                refresh_token: optional(tokens, "refresh_token")?.map(Secret::new),
                scope: optional(tokens, "scope")?,
                requested_scope: optional(tokens, "requested_scope")?,
            }),
        };
        Some(Self {
            issuer: string(&root, "issuer")?,
            resource: string(&root, "resource")?,
            client,
            tokens,
        })
    }
}

impl ClientKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cimd => "cimd",
            Self::Dcr => "dcr",
            Self::Preregistered => "preregistered",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "cimd" => Some(Self::Cimd),
            "dcr" => Some(Self::Dcr),
            "preregistered" => Some(Self::Preregistered),
            _ => None,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(what, err) => write!(f, "{what}: {err}"),
            Self::NotPrivate(why) => write!(f, "the directory is {why}"),
            Self::Timeout => {
                f.write_str("another supergateway held the token file's lock too long")
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(_, err) => Some(err),
            Self::NotPrivate(_) | Self::Timeout => None,
        }
    }
}

/// `<host>-<hex16>` for (`issuer`, `resource`): readable, fixed length, and
/// free of path separators whatever the issuer holds.
pub(crate) fn file_name(issuer: &str, resource: &str) -> String {
    let host = Url::parse(issuer)
        .map(|url| url.host().to_ascii_lowercase())
        .unwrap_or_default();
    let mut name: String = host
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '.' | '-' => c,
            _ => '_',
        })
        .collect();
    if name.is_empty() {
        name.push('_');
    }
    let mut input = Vec::with_capacity(
        issuer
            .len()
            .saturating_add(resource.len())
            .saturating_add(1),
    );
    input.extend_from_slice(issuer.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(resource.as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, &input);
    name.push('-');
    rt::push_hex(&mut name, digest.as_ref().get(..8).unwrap_or_default());
    name
}

/// A required string member.
fn string(object: &Value, key: &str) -> Option<String> {
    Some(object.get(key)?.as_str()?.to_owned())
}

/// An optional string member: `Some(None)` when absent or null, `None` (the
/// record is unusable) when present with another type.
fn optional(object: &Value, key: &str) -> Option<Option<String>> {
    match object.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => None,
    }
}
