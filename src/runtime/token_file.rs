//! The admin API's generated token: when the operator set none
//! (`--runtimeAdminToken`, `SUPERGATEWAY_ADMIN_TOKEN`), the gateway makes one
//! from the OS's CSPRNG and writes it to a file only its user can read, as
//! Jupyter does, so that the API is never open to every local user.
//!
//! Where: `$XDG_RUNTIME_DIR/supergateway-admin-<pid>.token` when that
//! directory is a real directory owned by this user and closed to others
//! (as the XDG spec requires, but checked); otherwise `admin.token` in a
//! fresh directory `supergateway-<pid>-<random>` under the temporary
//! directory, created with mode 0700 (`mkdir` fails on anything already
//! there, a symlink included). The file is created exclusively
//! (`O_CREAT|O_EXCL`) with mode 0600 and holds the token and a newline.
//! [`TokenFile`] removes it (and the directory it made) when dropped, at
//! exit; a SIGKILL leaves it behind, readable by the same user only.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::rt;

/// Random bytes in a token (64 hex digits).
const TOKEN_BYTES: usize = 32;

/// The file holding a generated token; removed on drop.
pub(crate) struct TokenFile {
    path: PathBuf,
    /// The private directory made for it, if any.
    dir: Option<PathBuf>,
}

impl TokenFile {
    /// Makes a token and writes it to a new file; returns both.
    pub(crate) fn create() -> Result<(String, Self), String> {
        let token = random_hex(TOKEN_BYTES);
        let pid = std::process::id();
        if let Some(runtime_dir) = private_runtime_dir() {
            let path = runtime_dir.join(format!("supergateway-admin-{pid}.token"));
            if write_new(&path, &token).is_ok() {
                return Ok((token, Self { path, dir: None }));
            }
        }
        let dir = std::env::temp_dir().join(format!("supergateway-{pid}-{}", random_hex(4)));
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        let path = dir.join("admin.token");
        if let Err(err) = write_new(&path, &token) {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!("cannot write {}: {err}", path.display()));
        }
        Ok((
            token,
            Self {
                path,
                dir: Some(dir),
            },
        ))
    }

    /// Where the token is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// `$XDG_RUNTIME_DIR` if it is an absolute path to a directory (not a
/// symlink) owned by this user with no group or other permissions.
fn private_runtime_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    if !dir.is_absolute() {
        return None;
    }
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let own = meta.uid() == rustix::process::geteuid().as_raw();
    (meta.is_dir() && own && meta.mode() & 0o077 == 0).then_some(dir)
}

/// Creates `path` (failing if anything is there) with mode 0600 and writes
/// `token` and a newline; removes it again if the write fails.
fn write_new(path: &Path, token: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let written = file
        .write_all(token.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// `bytes` random bytes from the OS, in lowercase hex.
/// `bytes` (at most 32) random bytes as hex (`rt::random_bytes`).
fn random_hex(bytes: usize) -> String {
    let random = [rt::random_bytes(), rt::random_bytes()].concat();
    let mut out = String::with_capacity(bytes.saturating_mul(2));
    rt::push_hex(&mut out, random.get(..bytes).unwrap_or(&random));
    out
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn tokens_are_long_random_and_hex() {
        let a = random_hex(TOKEN_BYTES);
        let b = random_hex(TOKEN_BYTES);
        assert_eq!(a.len(), 64);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_file_is_new_and_private() {
        let dir = std::env::temp_dir().join(format!("sg-token-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("t");
        write_new(&path, "abc").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Exclusive: an existing file (or a planted symlink) is not reused.
        assert!(write_new(&path, "other").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc\n");
        let link = dir.join("link");
        std::os::unix::fs::symlink(dir.join("target"), &link).unwrap();
        assert!(write_new(&link, "x").is_err());
        assert!(!dir.join("target").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
