//! `jobtrace backup`: a consistent copy of a live SQLite store (`VACUUM INTO` reads one
//! snapshot, so writers keep committing while it copies and none of their later commits is
//! half in it).

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

use super::{StoreError, is_postgres};

/// The file an `sqlite:` URL names.
fn sqlite_file(url: &str) -> Result<std::path::PathBuf, StoreError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(options.get_filename().to_path_buf())
}

/// For maintenance commands: the store a URL names exists already (opening an `sqlite:` URL
/// creates the file, and a mistyped path would be an empty store pruned of nothing).
pub fn must_exist(url: &str) -> Result<(), StoreError> {
    if is_postgres(url) {
        return Ok(());
    }
    let file = sqlite_file(url)?;
    if file.exists() {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("store {}", file.display())))
    }
}

/// Copies the SQLite store at `url` to `target` (a new file) and returns the copy's size in
/// bytes. The copy is compacted and opens as a store of its own.
pub async fn backup(url: &str, target: &Path) -> Result<u64, StoreError> {
    if is_postgres(url) {
        return Err(StoreError::InvalidArgument(
            "a PostgreSQL store is backed up with PostgreSQL's tools (pg_dump, or a base backup \
             with WAL archiving); jobtrace backup copies SQLite stores"
                .to_owned(),
        ));
    }
    let source = sqlite_file(url)?;
    if !source.exists() {
        return Err(StoreError::NotFound(format!("store {}", source.display())));
    }
    if target.exists() {
        return Err(StoreError::Conflict(format!(
            "{} exists already; a backup goes to a new file",
            target.display()
        )));
    }
    let target = target.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open_with_flags(
            &source,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(StoreError::from_rusqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(StoreError::from_rusqlite)?;
        let into = target.to_str().ok_or_else(|| {
            StoreError::InvalidArgument(format!("{} is not UTF-8", target.display()))
        })?;
        conn.execute("VACUUM INTO ?1", [into])
            .map_err(StoreError::from_rusqlite)?;
        std::fs::metadata(&target)
            .map(|meta| meta.len())
            .map_err(|e| StoreError::Corrupt(format!("the backup vanished: {e}")))
    })
    .await
    .map_err(|e| StoreError::Shared(format!("the backup stopped: {e}")))?
}
