//! Storage-event automations: new objects in storage locations submit jobs.
//!
//! Two sources report new objects:
//! - the folder watcher here, for local locations under a `--watch-root`: every [`TICK`] each
//!   replica lists the folders that storage-event triggers name (recursively, not following
//!   symbolic links, at most [`MAX_SCAN_ENTRIES`] entries each) and reports each file that is
//!   new or changed since its automation was created, once it has kept its size and change
//!   time over two listings (a file still being written waits until it is complete);
//! - `NotifyObjectCreated` (grpc/storage.rs), for any location, from whatever program a
//!   subscription hands its id to (an S3 or GCS notification relay, a folder watcher on
//!   another machine). jobtrace receives no cloud notifications itself.
//!
//! Either way [`object_created`] submits one job per automation whose trigger's glob matches
//! the object's key, and `WorkflowStorage::record_object_created` makes it once per object
//! version whatever the number of replicas or repeated reports.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use prost::Message;
use uuid::Uuid;

use crate::grpc::proto::workflows::v1 as wf;
use crate::store::workflow::{
    EventJob, NewJob, ObjectCreated, StorageEvent, StorageKind, TaskSpec, WatchedTrigger,
};
use crate::store::{SharedStore, StoreError, TraceId};

/// How often watched folders are listed: a new file's job is submitted one to two ticks after
/// the file stops changing.
pub const TICK: Duration = Duration::from_secs(1);
/// Most directory entries one listing of a location visits; the rest of a larger tree is not
/// watched (and a warning says so).
pub const MAX_SCAN_ENTRIES: usize = 200_000;
/// Deepest folder nesting a listing descends into.
const MAX_DEPTH: usize = 64;

/// A glob pattern over object keys (`/`-separated paths relative to the location): `*` is any
/// run of characters within one path segment, `?` one character other than `/`, `[abc]`,
/// `[a-z]` and `[!abc]` one character of (or not of) a set, `**` any run of characters across
/// segments (`**/` also none), `\x` the character `x`. A pattern matches the whole key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(Vec<Token>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Stars,
    /// `**/`: any number of whole directories, none included.
    Dirs,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    pub fn parse(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("a glob pattern must not be empty".to_owned());
        }
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped) => tokens.push(Token::Char(escaped)),
                    None => return Err(format!("glob {pattern:?} ends with a lone '\\'")),
                },
                '?' => tokens.push(Token::Any),
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    while chars.peek() == Some(&'*') {
                        chars.next();
                    }
                    if chars.peek() == Some(&'/') {
                        chars.next();
                        tokens.push(Token::Dirs);
                    } else {
                        tokens.push(Token::Stars);
                    }
                }
                '*' => tokens.push(Token::Star),
                '[' => {
                    let negated = matches!(chars.peek(), Some('!' | '^'));
                    if negated {
                        chars.next();
                    }
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    let mut first = true;
                    while let Some(c) = chars.next() {
                        if c == ']' && !first {
                            closed = true;
                            break;
                        }
                        first = false;
                        let low = if c == '\\' {
                            chars.next().unwrap_or('\\')
                        } else {
                            c
                        };
                        let mut high = low;
                        if chars.peek() == Some(&'-') {
                            let mut ahead = chars.clone();
                            ahead.next();
                            if let Some(&end) = ahead.peek().filter(|&&end| end != ']') {
                                chars.next();
                                chars.next();
                                high = if end == '\\' {
                                    chars.next().unwrap_or('\\')
                                } else {
                                    end
                                };
                            }
                        }
                        if high < low {
                            return Err(format!("glob {pattern:?}: range {low}-{high} is empty"));
                        }
                        ranges.push((low, high));
                    }
                    if !closed {
                        return Err(format!("glob {pattern:?} has an unclosed '['"));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Char(c)),
            }
        }
        Ok(Glob(tokens))
    }

    /// Whether `key` matches the whole pattern. Dynamic programming over (token, position):
    /// time is the product of their lengths whatever the pattern (no backtracking blow-up on
    /// hostile patterns like `*a*a*a*a*b`).
    pub fn matches(&self, key: &str) -> bool {
        let text: Vec<char> = key.chars().collect();
        let n = text.len();
        // `next[j]`: the tokens after the current one match `text[j..]`.
        let mut next = vec![false; n + 1];
        next[n] = true;
        let mut current = vec![false; n + 1];
        for token in self.0.iter().rev() {
            // For `Dirs`: some `/` at or after `j` is followed by a match of the rest.
            let mut slash_then_rest = false;
            for j in (0..=n).rev() {
                let here = text.get(j).copied();
                current[j] = match token {
                    Token::Char(c) => here == Some(*c) && next[j + 1],
                    Token::Any => here.is_some_and(|h| h != '/') && next[j + 1],
                    Token::Class { negated, ranges } => {
                        here.is_some_and(|h| {
                            h != '/'
                                && ranges.iter().any(|&(low, high)| low <= h && h <= high)
                                    != *negated
                        }) && next[j + 1]
                    }
                    Token::Star => next[j] || (here.is_some_and(|h| h != '/') && current[j + 1]),
                    Token::Stars => next[j] || (here.is_some() && current[j + 1]),
                    Token::Dirs => {
                        if here == Some('/') && next[j + 1] {
                            slash_then_rest = true;
                        }
                        next[j] || slash_then_rest
                    }
                };
            }
            std::mem::swap(&mut next, &mut current);
        }
        next[0]
    }
}

/// The jobs an object submits: one per trigger in `triggers` whose glob matches `key`, its
/// task's input wrapped as the Tilebox client's `StorageEventTask` reads it
/// (`workflows.v1.Automation` with the `TriggeredStorageEvent` and the task's own arguments).
pub fn event_jobs(
    triggers: &[&WatchedTrigger],
    location_id: Uuid,
    key: &str,
    event_ns: i64,
) -> Vec<EventJob> {
    let event = wf::TriggeredStorageEvent {
        storage_location_id: Some(crate::grpc::convert::id(location_id)),
        r#type: wf::StorageEventType::Created as i32,
        location: key.to_owned(),
    }
    .encode_to_vec();
    triggers
        .iter()
        .filter(|trigger| Glob::parse(&trigger.glob).is_ok_and(|glob| glob.matches(key)))
        .map(|trigger| {
            let (trace_parent, trace_id) = TraceId::new_parent();
            let input = wf::Automation {
                trigger_event: event.clone(),
                args: trigger.task.input.clone(),
            };
            EventJob {
                automation_id: trigger.automation_id,
                glob: trigger.glob.clone(),
                event_ns,
                job: NewJob {
                    name: trigger.name.clone(),
                    trace_parent,
                    trace_id,
                    tasks: vec![TaskSpec {
                        input: input.encode_to_vec(),
                        ..trigger.task.clone()
                    }],
                },
            }
        })
        .collect()
}

/// Records `event` and submits the jobs of the matching `triggers` (of its location), once per
/// object version: `None` when it was recorded before.
pub async fn object_created(
    store: &SharedStore,
    event: ObjectCreated,
    triggers: &[&WatchedTrigger],
) -> Result<Option<StorageEvent>, StoreError> {
    let jobs = event_jobs(
        triggers,
        event.location_id,
        &event.object_key,
        event.event_ns,
    );
    let store = store.clone();
    crate::store::to_the_end(async move {
        store
            .record_object_created(&event, jobs, crate::now_ns())
            .await
    })
    .await
}

/// One file of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileState {
    /// The later of its modification and status-change times (unix ns): a file written,
    /// copied or moved in has a new one.
    version_ns: i64,
    size: u64,
}

/// `seconds` and `nanos` as unix ns, saturating (a file dated past 2262 is not an overflow).
fn ns_of(seconds: i64, nanos: i64) -> i64 {
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(unix)]
fn version_ns(metadata: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    ns_of(metadata.mtime(), metadata.mtime_nsec())
        .max(ns_of(metadata.ctime(), metadata.ctime_nsec()))
}

#[cfg(not(unix))]
fn version_ns(metadata: &std::fs::Metadata) -> i64 {
    metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(i64::MAX)
}

/// The regular files under `root` by key (`/`-separated relative path): symbolic links are
/// not followed, names that are not UTF-8 are passed over, at most `budget` entries are
/// visited (`true`: the tree was larger, the listing is partial).
fn list_files(root: &Path, budget: usize) -> (HashMap<String, FileState>, bool) {
    let mut files = HashMap::new();
    let mut visited = 0usize;
    let mut folders: Vec<(PathBuf, String, usize)> = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((folder, prefix, depth)) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > budget {
                return (files, true);
            }
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // `DirEntry::metadata` does not follow symbolic links.
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let key = format!("{prefix}{name}");
            if metadata.is_dir() {
                if depth < MAX_DEPTH {
                    folders.push((entry.path(), format!("{key}/"), depth + 1));
                }
            } else if metadata.is_file() {
                let state = FileState {
                    version_ns: version_ns(&metadata),
                    size: metadata.len(),
                };
                files.insert(key, state);
            }
        }
    }
    (files, false)
}

/// A location's trigger as the watcher matches it: its glob parsed once.
#[derive(Clone)]
struct Matcher {
    automation_id: Uuid,
    since_ns: i64,
    glob: Option<Glob>,
}

/// What the watcher knows of one location between listings; every map holds only keys of the
/// last complete listing.
#[derive(Default)]
struct Watched {
    /// Loaded from the store once: object versions recorded before (by this replica before a
    /// restart, or by another).
    loaded: bool,
    /// Key → the version last recorded and the automations that have their job for it.
    recorded: HashMap<String, (i64, HashSet<Uuid>)>,
    /// Key → a version no trigger wants (or the store refused for good), until the triggers
    /// change.
    ignored: HashMap<String, i64>,
    /// The triggers `ignored` was worked out for.
    signature: Vec<(Uuid, i64, String)>,
    /// Files that would fire, as the last listing saw them: reported when the next listing
    /// sees them unchanged.
    settling: HashMap<String, FileState>,
    /// A warning about this location was logged (not again every tick).
    warned: bool,
}

/// A file to report, with the automations (indexes into the matchers) it fires.
struct Due {
    key: String,
    file: FileState,
    matchers: Vec<usize>,
}

/// Which listed files fire which triggers now, and the watcher's maps brought up to date.
/// CPU-bound (globs over every new file): run off the async workers.
fn examine(
    files: &HashMap<String, FileState>,
    complete: bool,
    matchers: &[Matcher],
    floor_ns: i64,
    state: &mut Watched,
) -> Vec<Due> {
    let mut settling = HashMap::new();
    let mut due = Vec::new();
    for (key, file) in files {
        if file.version_ns < floor_ns || state.ignored.get(key) == Some(&file.version_ns) {
            continue;
        }
        let handled = state
            .recorded
            .get(key)
            .filter(|(version, _)| *version == file.version_ns)
            .map(|(_, automations)| automations);
        let firing: Vec<usize> = matchers
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                file.version_ns >= m.since_ns
                    && !handled.is_some_and(|h| h.contains(&m.automation_id))
                    && m.glob.as_ref().is_some_and(|glob| glob.matches(key))
            })
            .map(|(index, _)| index)
            .collect();
        if firing.is_empty() {
            if handled.is_none() {
                state.ignored.insert(key.clone(), file.version_ns);
            }
            continue;
        }
        if state.settling.get(key) == Some(file) {
            due.push(Due {
                key: key.clone(),
                file: *file,
                matchers: firing,
            });
        } else {
            // New, or still changing: looked at again next tick.
            settling.insert(key.clone(), *file);
        }
    }
    state.settling = settling;
    if complete {
        state.recorded.retain(|key, _| files.contains_key(key));
        state.ignored.retain(|key, _| files.contains_key(key));
    }
    due
}

/// The folder watcher: lists the watched local locations every [`TICK`], for as long as the
/// server runs. Folders outside every `roots` are not listed (a warning says so once).
/// Objects older than `floor_age` (the retention, whose pruning forgets their events) do not
/// trigger.
pub fn spawn(
    store: SharedStore,
    roots: Vec<PathBuf>,
    floor_age: Option<Duration>,
) -> tokio::task::JoinHandle<()> {
    let roots: Vec<PathBuf> = roots
        .into_iter()
        .filter_map(|root| match root.canonicalize() {
            Ok(root) => Some(root),
            Err(error) => {
                tracing::warn!(root = %root.display(), %error, "storage: watch root not usable");
                None
            }
        })
        .collect();
    tokio::spawn(async move {
        let mut watched: HashMap<Uuid, Watched> = HashMap::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let floor_ns = floor_age.map_or(0, crate::retention::cutoff);
            if let Err(error) = watch_once(&store, &roots, floor_ns, &mut watched).await {
                tracing::warn!(%error, "storage: watching folders failed, trying again");
            }
        }
    })
}

/// One round of the watcher: every local location with triggers listed once, at most
/// [`MAX_SCAN_ENTRIES`] entries over all of them.
async fn watch_once(
    store: &SharedStore,
    roots: &[PathBuf],
    floor_ns: i64,
    watched: &mut HashMap<Uuid, Watched>,
) -> Result<(), StoreError> {
    if roots.is_empty() {
        return Ok(());
    }
    let triggers = store.storage_triggers(Some(StorageKind::Local)).await?;
    let mut by_location: HashMap<Uuid, Vec<&WatchedTrigger>> = HashMap::new();
    for trigger in &triggers {
        by_location
            .entry(trigger.location_id)
            .or_default()
            .push(trigger);
    }
    watched.retain(|id, _| by_location.contains_key(id));
    let mut budget = MAX_SCAN_ENTRIES;
    for (location_id, triggers) in by_location {
        let Some(location) = store.storage_location(location_id).await? else {
            continue;
        };
        let mut state = watched.remove(&location_id).unwrap_or_default();
        let path = PathBuf::from(&location.spec.location);
        let root = match path.canonicalize() {
            Ok(root) if roots.iter().any(|allowed| root.starts_with(allowed)) => root,
            outcome => {
                if !state.warned {
                    state.warned = true;
                    let why = match outcome {
                        Ok(_) => "it is under no --watch-root".to_owned(),
                        Err(error) => error.to_string(),
                    };
                    tracing::warn!(location = %location.spec.location, %why, "storage: folder not watched");
                }
                watched.insert(location_id, state);
                continue;
            }
        };
        let signature: Vec<(Uuid, i64, String)> = triggers
            .iter()
            .map(|t| (t.automation_id, t.since_ns, t.glob.clone()))
            .collect();
        if signature != state.signature {
            state.ignored.clear();
            state.signature = signature;
        }
        if !state.loaded {
            let oldest = triggers
                .iter()
                .map(|t| t.since_ns)
                .min()
                .unwrap_or_default();
            for (key, version, automation) in store
                .recorded_objects(location_id, oldest.max(floor_ns))
                .await?
            {
                let entry = state
                    .recorded
                    .entry(key)
                    .or_insert_with(|| (version, HashSet::new()));
                if version > entry.0 {
                    *entry = (version, HashSet::new());
                }
                if version == entry.0 {
                    entry.1.insert(automation);
                }
            }
            state.loaded = true;
        }
        let matchers: Vec<Matcher> = triggers
            .iter()
            .map(|t| Matcher {
                automation_id: t.automation_id,
                since_ns: t.since_ns,
                glob: Glob::parse(&t.glob).ok(),
            })
            .collect();
        let share = budget;
        let examined = tokio::task::spawn_blocking(move || {
            let (files, partial) = list_files(&root, share);
            let due = examine(&files, !partial, &matchers, floor_ns, &mut state);
            (state, due, files.len(), partial)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("listing a folder: {e}")))?;
        let (mut state, due, listed, partial) = examined;
        budget = budget.saturating_sub(listed);
        if partial && !state.warned {
            state.warned = true;
            tracing::warn!(location = %location.spec.location, "storage: more than {MAX_SCAN_ENTRIES} entries to list in a second; the rest is not watched");
        }
        for Due {
            key,
            file,
            matchers,
        } in due
        {
            let firing: Vec<&WatchedTrigger> = matchers.iter().map(|&i| triggers[i]).collect();
            let event = ObjectCreated {
                location_id,
                object_key: key.clone(),
                version_ns: file.version_ns,
                event_ns: file.version_ns,
                subscription_id: None,
            };
            match object_created(store, event, &firing).await {
                Ok(recorded) => {
                    let mut handled: HashSet<Uuid> =
                        firing.iter().map(|t| t.automation_id).collect();
                    if let Some(event) = &recorded {
                        tracing::info!(location = %location.spec.location, object = %key, jobs = event.jobs.len(), "storage: new object triggered jobs");
                        handled.extend(event.jobs.iter().map(|j| j.automation_id));
                    }
                    let entry = state
                        .recorded
                        .entry(key)
                        .or_insert_with(|| (file.version_ns, HashSet::new()));
                    if entry.0 != file.version_ns {
                        *entry = (file.version_ns, HashSet::new());
                    }
                    entry.1.extend(handled);
                }
                // Refused for good (a path too long to record): not tried again.
                Err(StoreError::InvalidArgument(why)) => {
                    tracing::warn!(object = %key, %why, "storage: new object not recorded");
                    state.ignored.insert(key, file.version_ns);
                }
                Err(error) => {
                    tracing::warn!(object = %key, %error, "storage: recording a new object failed; trying again");
                    state.settling.insert(key, file);
                }
            }
        }
        watched.insert(location_id, state);
        if budget == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, key: &str) -> bool {
        Glob::parse(pattern)
            .map(|g| g.matches(key))
            .unwrap_or(false)
    }

    #[test]
    fn test_star_stays_within_a_segment() {
        assert!(matches("*.tif", "scene.tif"));
        assert!(!matches("*.tif", "2026/scene.tif"));
        assert!(matches("*/*.tif", "2026/scene.tif"));
        assert!(!matches("*.tif", "scene.tiff"));
        assert!(matches("scene_??.tif", "scene_01.tif"));
        assert!(!matches("scene_?.tif", "scene_/.tif"));
    }

    #[test]
    fn test_double_star_crosses_segments() {
        assert!(matches("**/*.tif", "scene.tif"));
        assert!(matches("**/*.tif", "a/b/c/scene.tif"));
        assert!(matches("**", "anything/at/all"));
        assert!(matches("raw/**/*.json", "raw/x.json"));
        assert!(matches("raw/**/*.json", "raw/2026/12/x.json"));
        assert!(!matches("raw/**/*.json", "cooked/2026/x.json"));
        assert!(matches("raw/**", "raw/2026/x.json"));
    }

    #[test]
    fn test_classes_and_escapes() {
        assert!(matches("band[1-4].tif", "band3.tif"));
        assert!(!matches("band[1-4].tif", "band5.tif"));
        assert!(matches("band[!1-4].tif", "band5.tif"));
        assert!(matches(r"a\*b", "a*b"));
        assert!(!matches(r"a\*b", "axb"));
        assert!(matches("[]]", "]"));
        assert!(matches(r"[\[-\]]", "]"), "an escaped range end");
        assert!(!matches(r"[\[-\]]", "a"));
    }

    #[test]
    fn test_bad_patterns_say_what_is_wrong() {
        for (pattern, says) in [
            ("", "empty"),
            ("[abc", "unclosed"),
            ("a\\", "lone"),
            ("[z-a]", "empty"),
        ] {
            let error = Glob::parse(pattern).err().unwrap_or_default();
            assert!(error.contains(says), "{pattern}: {error}");
        }
    }

    #[test]
    fn test_hostile_pattern_is_not_exponential() {
        let pattern = "*a".repeat(100) + "b";
        let key = "a".repeat(4000);
        let started = std::time::Instant::now();
        assert!(!matches(&pattern, &key));
        // 201 tokens × 4001 positions: well under a second even unoptimised.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn test_listing_skips_links_and_keys_use_slashes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("a/b/one.txt"), b"1").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("two.txt"), b"22").unwrap_or_else(|e| panic!("{e}"));
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap_or_else(|e| panic!("{e}"));
        let (files, truncated) = list_files(root, MAX_SCAN_ENTRIES);
        assert!(!truncated);
        assert!(
            list_files(root, 2).1,
            "a budget of two entries stops the listing"
        );
        let mut keys: Vec<&str> = files.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["a/b/one.txt", "two.txt"]);
        assert_eq!(files["two.txt"].size, 2);
    }
}
