//! Task analytics across runs: for each task identifier and version, how often it ran, how often
//! it failed, how long it waited in the queue and how long it ran, per day, and whether a newer
//! version got slower.
//!
//! The store keeps per-day log-scale histograms (`task_stats`, filled by a background roll-up of
//! ended attempts), so a percentile costs the same on a million executions as on ten: it is read
//! from at most a few hundred buckets. A bucket spans a factor of 2^(1/8) (about 9 %); a
//! percentile is the geometric middle of the bucket holding its rank, within about 4.5 % of the
//! exact value.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Histogram buckets per doubling of a duration.
const BUCKETS_PER_DOUBLING: f64 = 8.0;
/// One UTC day in nanoseconds: the histograms' time resolution.
pub const DAY_NS: i64 = 86_400_000_000_000;
/// The longest window the analytics cover, in days.
pub const MAX_STAT_DAYS: u32 = 90;
/// The window when none is asked for, in days.
pub const DEFAULT_STAT_DAYS: u32 = 14;
/// Executions each of two versions needs in the window before they are compared.
pub const MIN_COMPARED_RUNS: i64 = 20;
/// A newer version is flagged when its p50 or p95 duration is this many times the previous
/// version's.
pub const SLOWDOWN_FACTOR: f64 = 1.25;

/// The histogram bucket of a duration (ns; negative ones, from clocks that disagree, count as 0).
pub fn bucket_of(ns: i64) -> i32 {
    if ns <= 1 {
        return 0;
    }
    ((ns as f64).log2() * BUCKETS_PER_DOUBLING).floor() as i32
}

/// The duration a bucket stands for: the geometric middle of its range (ns).
pub fn bucket_value(bucket: i32) -> i64 {
    if bucket <= 0 {
        return 0;
    }
    let value = ((f64::from(bucket) + 0.5) / BUCKETS_PER_DOUBLING).exp2();
    value.round().min(i64::MAX as f64) as i64
}

/// The start of the UTC day `ns` falls in.
pub fn day_of(ns: i64) -> i64 {
    ns.div_euclid(DAY_NS) * DAY_NS
}

/// Which histogram a stored row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatKind {
    /// How long an attempt ran (claim to report).
    Duration = 0,
    /// How long it waited to be claimed once it could run (its dependencies complete, or its
    /// previous attempt over).
    QueueWait = 1,
}

impl StatKind {
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            0 => Some(StatKind::Duration),
            1 => Some(StatKind::QueueWait),
            _ => None,
        }
    }
}

/// One stored histogram bucket: attempts of a task version that ended on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatRow {
    pub name: String,
    pub version: String,
    pub day_ns: i64,
    pub kind: StatKind,
    pub bucket: i32,
    pub executions: i64,
    /// Of them, how many failed (their lease expired or the task raised); duration rows only.
    pub failed: i64,
}

/// One histogram bucket of a version over a whole window (`task_stats` summed over its days),
/// with the first and last day the bucket had runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTotalRow {
    pub name: String,
    pub version: String,
    pub kind: StatKind,
    pub bucket: i32,
    pub executions: i64,
    pub failed: i64,
    pub first_day_ns: i64,
    pub last_day_ns: i64,
}

/// One identifier's day, all versions together, as the roll-up keeps it (`task_daily`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDayRow {
    pub name: String,
    pub day_ns: i64,
    pub executions: i64,
    pub failed: i64,
    pub duration: Percentiles,
}

/// A log-scale histogram: bucket → count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    counts: BTreeMap<i32, i64>,
    total: i64,
}

impl Histogram {
    pub fn add(&mut self, bucket: i32, count: i64) {
        *self.counts.entry(bucket).or_default() += count;
        self.total += count;
    }

    pub fn total(&self) -> i64 {
        self.total
    }

    /// The value below which a share `q` (0..=1) of the counted durations fall: the middle of
    /// the bucket holding that rank (nearest-rank method).
    pub fn quantile(&self, q: f64) -> Option<i64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as i64).clamp(1, self.total);
        let mut seen = 0;
        for (&bucket, &count) in &self.counts {
            seen += count;
            if seen >= rank {
                return Some(bucket_value(bucket));
            }
        }
        None
    }

    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            p50_ns: self.quantile(0.50),
            p95_ns: self.quantile(0.95),
            p99_ns: self.quantile(0.99),
        }
    }
}

/// p50, p95 and p99 of a histogram (ns); `None` when nothing was counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50_ns: Option<i64>,
    pub p95_ns: Option<i64>,
    pub p99_ns: Option<i64>,
}

/// What a set of attempts did: counts and percentiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    pub executions: i64,
    pub failed: i64,
    pub duration: Percentiles,
    pub queue_wait: Percentiles,
}

impl RunStats {
    /// Failed attempts per attempt (0 when none ran).
    pub fn failure_rate(&self) -> f64 {
        if self.executions == 0 {
            0.0
        } else {
            self.failed as f64 / self.executions as f64
        }
    }
}

/// One version of a task identifier over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionStats {
    pub version: String,
    pub stats: RunStats,
    /// The first and last day it ran in the window (UTC day starts, unix ns).
    pub first_day_ns: i64,
    pub last_day_ns: i64,
}

/// One day of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayStats {
    pub day_ns: i64,
    pub stats: RunStats,
}

/// A newer version whose runs got slower than the version before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slowdown {
    pub version: String,
    pub previous: String,
    /// `p50` or `p95`: the percentile that grew most.
    pub percentile: String,
    pub ns: i64,
    pub previous_ns: i64,
}

impl Slowdown {
    pub fn factor(&self) -> f64 {
        self.ns as f64 / self.previous_ns.max(1) as f64
    }
}

/// A task identifier over the window: all its versions together, each version, each day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskIdentifierStats {
    pub name: String,
    pub stats: RunStats,
    /// Newest version first.
    pub versions: Vec<VersionStats>,
    /// Every day of the window, oldest first (days without runs have zero executions).
    pub days: Vec<DayStats>,
    pub slowdown: Option<Slowdown>,
}

/// The analytics of every task identifier over a window of days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAnalytics {
    /// The first day of the window and how many days it has (the last is today, UTC).
    pub first_day_ns: i64,
    pub days: u32,
    /// Most executions first.
    pub tasks: Vec<TaskIdentifierStats>,
}

/// One of the slowest recent attempts of a task, to open its span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowRun {
    pub job_id: String,
    pub task_id: String,
    /// 1 for the first claim of the task.
    pub attempt: i64,
    pub version: String,
    pub runner: String,
    pub duration_ns: i64,
    pub day_ns: i64,
    pub failed: bool,
}

impl SlowRun {
    /// The job page with this attempt's span selected.
    pub fn href(&self) -> String {
        format!(
            "/jobs/{}?task={}&attempt={}",
            self.job_id, self.task_id, self.attempt
        )
    }
}

/// One identifier in detail: its analytics, each version's days, and its slowest recent runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDetail {
    pub first_day_ns: i64,
    pub days: u32,
    pub task: TaskIdentifierStats,
    /// Per version (newest first), every day of the window.
    pub version_days: Vec<(String, Vec<DayStats>)>,
    /// Slowest first.
    pub slowest: Vec<SlowRun>,
}

/// How many slow runs the detail lists.
pub const SLOW_RUNS: usize = 10;

/// The window of `days` days ending with the day of `now_ns`: its first day.
pub fn window_start(now_ns: i64, days: u32) -> i64 {
    day_of(now_ns) - i64::from(days.max(1) - 1) * DAY_NS
}

/// Orders versions newest first: `vMAJOR.MINOR` by number, others after them by text.
fn version_key(version: &str) -> (u8, u64, u64, String) {
    let numbers = version.strip_prefix('v').and_then(|rest| {
        let (major, minor) = rest.split_once('.')?;
        Some((major.parse::<u64>().ok()?, minor.parse::<u64>().ok()?))
    });
    match numbers {
        Some((major, minor)) => (0, u64::MAX - major, u64::MAX - minor, String::new()),
        None => (1, 0, 0, version.to_owned()),
    }
}

#[derive(Default)]
struct Tally {
    duration: Histogram,
    wait: Histogram,
    failed: i64,
}

impl Tally {
    fn add(&mut self, row: &TaskStatRow) {
        match row.kind {
            StatKind::Duration => {
                self.duration.add(row.bucket, row.executions);
                self.failed += row.failed;
            }
            StatKind::QueueWait => self.wait.add(row.bucket, row.executions),
        }
    }

    fn stats(&self) -> RunStats {
        RunStats {
            executions: self.duration.total(),
            failed: self.failed,
            duration: self.duration.percentiles(),
            queue_wait: self.wait.percentiles(),
        }
    }
}

/// One version's tallies: over the window, per day, and its first and last day.
struct VersionTally {
    all: Tally,
    days: HashMap<i64, Tally>,
    first: i64,
    last: i64,
}

impl Default for VersionTally {
    /// No day yet: the first day after every day, the last before every day.
    fn default() -> Self {
        VersionTally {
            all: Tally::default(),
            days: HashMap::new(),
            first: i64::MAX,
            last: i64::MIN,
        }
    }
}

impl VersionTally {
    /// Counts `row`, which had runs from `first_day_ns` to `last_day_ns`.
    fn add(&mut self, row: &TaskStatRow, first_day_ns: i64, last_day_ns: i64) {
        self.all.add(row);
        self.first = self.first.min(first_day_ns);
        self.last = self.last.max(last_day_ns);
    }
}

/// Versions newest first, each with what its tallies say over the window.
fn version_stats(by_version: HashMap<&str, VersionTally>) -> Vec<(VersionStats, VersionTally)> {
    let mut versions: Vec<(&str, VersionTally)> = by_version.into_iter().collect();
    versions.sort_by_key(|(version, _)| version_key(version));
    versions
        .into_iter()
        .map(|(version, tally)| {
            let stats = VersionStats {
                version: version.to_owned(),
                stats: tally.all.stats(),
                first_day_ns: tally.first,
                last_day_ns: tally.last,
            };
            (stats, tally)
        })
        .collect()
}

fn day_series(by_day: &HashMap<i64, Tally>, first_day_ns: i64, days: u32) -> Vec<DayStats> {
    (0..i64::from(days))
        .map(|i| {
            let day_ns = first_day_ns + i * DAY_NS;
            DayStats {
                day_ns,
                stats: by_day.get(&day_ns).map(Tally::stats).unwrap_or_default(),
            }
        })
        .collect()
}

/// The newest version that got slower than the one before it, both with enough runs.
fn slowdown(versions: &[VersionStats]) -> Option<Slowdown> {
    let compared: Vec<&VersionStats> = versions
        .iter()
        .filter(|v| v.stats.executions >= MIN_COMPARED_RUNS)
        .collect();
    let (newer, older) = (compared.first()?, compared.get(1)?);
    let pick = |p: &Percentiles, name: &str| match name {
        "p50" => p.p50_ns,
        _ => p.p95_ns,
    };
    ["p95", "p50"]
        .into_iter()
        .filter_map(|name| {
            let ns = pick(&newer.stats.duration, name)?;
            let previous_ns = pick(&older.stats.duration, name)?;
            (ns as f64 > previous_ns.max(1) as f64 * SLOWDOWN_FACTOR).then(|| Slowdown {
                version: newer.version.clone(),
                previous: older.version.clone(),
                percentile: name.to_owned(),
                ns,
                previous_ns,
            })
        })
        .max_by(|a, b| a.factor().total_cmp(&b.factor()))
}

/// Per identifier: all versions, each version and each day of the window.
fn identifier_stats(
    name: String,
    rows: &[&TaskStatRow],
    first_day_ns: i64,
    days: u32,
) -> (TaskIdentifierStats, Vec<(String, Vec<DayStats>)>) {
    let mut all = Tally::default();
    let mut by_day: HashMap<i64, Tally> = HashMap::new();
    let mut by_version: HashMap<&str, VersionTally> = HashMap::new();
    for row in rows {
        all.add(row);
        by_day.entry(row.day_ns).or_default().add(row);
        let version = by_version.entry(row.version.as_str()).or_default();
        version.add(row, row.day_ns, row.day_ns);
        version.days.entry(row.day_ns).or_default().add(row);
    }
    let (versions, tallies): (Vec<VersionStats>, Vec<VersionTally>) =
        version_stats(by_version).into_iter().unzip();
    let version_days = versions
        .iter()
        .zip(&tallies)
        .map(|(version, tally)| {
            (
                version.version.clone(),
                day_series(&tally.days, first_day_ns, days),
            )
        })
        .collect();
    let stats = TaskIdentifierStats {
        name,
        stats: all.stats(),
        slowdown: slowdown(&versions),
        versions,
        days: day_series(&by_day, first_day_ns, days),
    };
    (stats, version_days)
}

fn by_name(rows: &[TaskStatRow]) -> BTreeMap<&str, Vec<&TaskStatRow>> {
    let mut names: BTreeMap<&str, Vec<&TaskStatRow>> = BTreeMap::new();
    for row in rows {
        names.entry(row.name.as_str()).or_default().push(row);
    }
    names
}

/// The analytics of every identifier from the stored rows of the window.
pub fn task_analytics(rows: &[TaskStatRow], first_day_ns: i64, days: u32) -> TaskAnalytics {
    let mut tasks: Vec<TaskIdentifierStats> = by_name(rows)
        .into_iter()
        .map(|(name, rows)| identifier_stats(name.to_owned(), &rows, first_day_ns, days).0)
        .collect();
    sort_by_runs(&mut tasks);
    TaskAnalytics {
        first_day_ns,
        days,
        tasks,
    }
}

/// Per identifier, version and day (sorted so), what its attempts did: the analytics as a table.
pub fn daily_stats(rows: &[TaskStatRow]) -> Vec<(String, String, i64, RunStats)> {
    let mut tallies: BTreeMap<(&str, &str, i64), Tally> = BTreeMap::new();
    for row in rows {
        tallies
            .entry((row.name.as_str(), row.version.as_str(), row.day_ns))
            .or_default()
            .add(row);
    }
    tallies
        .into_iter()
        .map(|((name, version, day), tally)| {
            (name.to_owned(), version.to_owned(), day, tally.stats())
        })
        .collect()
}

/// The analytics of every identifier from the window's per-version totals and per-day summaries
/// (what the `/tasks` page reads: a few rows per version and bucket, one per identifier and day,
/// however many runs there were). The days carry the duration percentiles, not the queue wait.
pub fn task_overview(
    totals: &[TaskTotalRow],
    daily: &[TaskDayRow],
    first_day_ns: i64,
    days: u32,
) -> TaskAnalytics {
    let mut names: BTreeMap<&str, (Tally, HashMap<&str, VersionTally>)> = BTreeMap::new();
    for row in totals {
        let (all, versions) = names.entry(row.name.as_str()).or_default();
        let stat = TaskStatRow {
            name: String::new(),
            version: String::new(),
            day_ns: row.first_day_ns,
            kind: row.kind,
            bucket: row.bucket,
            executions: row.executions,
            failed: row.failed,
        };
        all.add(&stat);
        versions.entry(row.version.as_str()).or_default().add(
            &stat,
            row.first_day_ns,
            row.last_day_ns,
        );
    }
    let mut by_day: HashMap<(&str, i64), &TaskDayRow> = HashMap::new();
    for row in daily {
        by_day.insert((row.name.as_str(), row.day_ns), row);
    }
    let mut tasks: Vec<TaskIdentifierStats> = names
        .into_iter()
        .map(|(name, (all, versions))| {
            let versions: Vec<VersionStats> = version_stats(versions)
                .into_iter()
                .map(|(stats, _)| stats)
                .collect();
            let days = (0..i64::from(days))
                .map(|i| {
                    let day_ns = first_day_ns + i * DAY_NS;
                    let stats = by_day
                        .get(&(name, day_ns))
                        .map_or_else(RunStats::default, |d| RunStats {
                            executions: d.executions,
                            failed: d.failed,
                            duration: d.duration,
                            queue_wait: Percentiles::default(),
                        });
                    DayStats { day_ns, stats }
                })
                .collect();
            TaskIdentifierStats {
                name: name.to_owned(),
                stats: all.stats(),
                slowdown: slowdown(&versions),
                versions,
                days,
            }
        })
        .collect();
    sort_by_runs(&mut tasks);
    TaskAnalytics {
        first_day_ns,
        days,
        tasks,
    }
}

fn sort_by_runs(tasks: &mut [TaskIdentifierStats]) {
    tasks.sort_by(|a, b| {
        b.stats
            .executions
            .cmp(&a.stats.executions)
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// One identifier in detail, from its stored rows of the window; `None` when it never ran in it.
pub fn task_detail(
    name: &str,
    rows: &[TaskStatRow],
    slowest: Vec<SlowRun>,
    first_day_ns: i64,
    days: u32,
) -> Option<TaskDetail> {
    let rows: Vec<&TaskStatRow> = rows.iter().filter(|row| row.name == name).collect();
    if rows.is_empty() {
        return None;
    }
    let (task, version_days) = identifier_stats(name.to_owned(), &rows, first_day_ns, days);
    Some(TaskDetail {
        first_day_ns,
        days,
        task,
        version_days,
        slowest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: &str, day: i64, kind: StatKind, ns: i64, n: i64, failed: i64) -> TaskStatRow {
        TaskStatRow {
            name: "Tile".to_owned(),
            version: version.to_owned(),
            day_ns: day * DAY_NS,
            kind,
            bucket: bucket_of(ns),
            executions: n,
            failed,
        }
    }

    #[test]
    fn test_a_bucket_stands_for_its_durations_within_five_percent() {
        for ns in [
            2,
            3,
            10,
            999,
            1_000_000,
            1_234_567_890,
            3_600_000_000_000,
            i64::MAX / 2,
        ] {
            let value = bucket_value(bucket_of(ns)) as f64;
            let error = (value - ns as f64).abs() / ns as f64;
            assert!(error < 0.045, "{ns} ns read back as {value} ({error})");
        }
        assert_eq!(bucket_of(-5), 0);
        assert_eq!(bucket_value(0), 0);
        assert!(bucket_of(1_000) < bucket_of(1_100));
    }

    #[test]
    fn test_percentiles_follow_the_ranks() {
        let mut histogram = Histogram::default();
        // 90 fast runs of 10 ms, 9 of 100 ms, one of 10 s.
        histogram.add(bucket_of(10_000_000), 90);
        histogram.add(bucket_of(100_000_000), 9);
        histogram.add(bucket_of(10_000_000_000), 1);
        let near = |got: Option<i64>, want: i64| {
            let got = got.expect("a percentile") as f64;
            (got - want as f64).abs() / (want as f64) < 0.045
        };
        assert!(near(histogram.quantile(0.5), 10_000_000));
        assert!(near(histogram.quantile(0.95), 100_000_000));
        assert!(near(histogram.quantile(0.99), 100_000_000));
        assert!(near(histogram.quantile(1.0), 10_000_000_000));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn test_analytics_count_per_version_and_fill_every_day() {
        let rows = vec![
            row("v1.0", 10, StatKind::Duration, 1_000_000, 30, 3),
            row("v1.0", 10, StatKind::QueueWait, 5_000, 30, 0),
            row("v1.10", 12, StatKind::Duration, 1_000_000, 20, 0),
            row("v1.2", 11, StatKind::Duration, 1_000_000, 10, 10),
        ];
        let analytics = task_analytics(&rows, 10 * DAY_NS, 4);
        let tile = &analytics.tasks[0];
        assert_eq!(tile.stats.executions, 60);
        assert_eq!(tile.stats.failed, 13);
        let versions: Vec<&str> = tile.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(versions, ["v1.10", "v1.2", "v1.0"]);
        assert_eq!(tile.versions[1].stats.failure_rate(), 1.0);
        let executions: Vec<i64> = tile.days.iter().map(|d| d.stats.executions).collect();
        assert_eq!(executions, [30, 10, 20, 0]);
        assert!(tile.days[0].stats.queue_wait.p50_ns.is_some());
        assert!(tile.slowdown.is_none());
    }

    #[test]
    fn test_a_newer_version_twice_as_slow_is_flagged_and_a_small_sample_is_not() {
        let mut rows = vec![
            row("v1.0", 1, StatKind::Duration, 100_000_000, 50, 0),
            row("v1.1", 2, StatKind::Duration, 200_000_000, 50, 0),
        ];
        let flagged = task_analytics(&rows, DAY_NS, 2).tasks[0].slowdown.clone();
        let flagged = flagged.expect("v1.1 is twice as slow");
        assert_eq!(
            (flagged.version.as_str(), flagged.previous.as_str()),
            ("v1.1", "v1.0")
        );
        assert!((flagged.factor() - 2.0).abs() < 0.1, "{}", flagged.factor());
        // The same slowdown seen on five runs is noise.
        rows[1].executions = 5;
        assert!(task_analytics(&rows, DAY_NS, 2).tasks[0].slowdown.is_none());
        // A faster newer version is not a slowdown.
        rows[1].executions = 50;
        rows[1].bucket = bucket_of(50_000_000);
        assert!(task_analytics(&rows, DAY_NS, 2).tasks[0].slowdown.is_none());
    }

    #[test]
    fn test_the_window_ends_today() {
        let now = 100 * DAY_NS + 5;
        assert_eq!(window_start(now, 1), 100 * DAY_NS);
        assert_eq!(window_start(now, 14), 87 * DAY_NS);
        assert_eq!(day_of(-1), -DAY_NS);
    }
}
