//! A workflow job as a diagram: each task a box, a task's subtasks drawn inside it, `depends_on`
//! as arrows between siblings (Tilebox only lets a task depend on tasks submitted with it), laid
//! out in layers along the chosen direction. One layout serves the gRPC `VisualizeJob` answer
//! and the dashboard's Graph view (`svg.rs` draws it for both).
//!
//! Bounded whatever the job: more than [`GROUP_OVER`] alike siblings (same task name, same
//! dependencies, same dependents, no subtasks) are one box that counts them, and after
//! [`MAX_BOXES`] boxes the rest of a sibling list is one "+ n more" box.

mod svg;

use std::collections::HashMap;

pub use svg::{Theme, graph_svg};

use super::TaskView;

/// Alike siblings beyond this many are drawn as one box (`DownloadTile × 96`).
pub const GROUP_OVER: usize = 12;
/// At most this many boxes in one diagram; the rest of a sibling list is one box that says so.
pub const MAX_BOXES: usize = 2000;
/// Subtasks are drawn inside their parents this many levels deep; below, a box counts them.
pub const MAX_DEPTH: usize = 24;
/// At most this many boxes side by side in one layer; more wrap onto the next row.
const ROW_OF: usize = 10;
/// Labels and details are cut to this many characters (the full text is the box's title).
const LABEL_CHARS: usize = 32;
const DETAIL_CHARS: usize = 40;

const BOX_HEIGHT: f64 = 46.0;
const MIN_BOX_WIDTH: f64 = 132.0;
const LABEL_CHAR_PX: f64 = 7.4;
const DETAIL_CHAR_PX: f64 = 6.2;
/// Between boxes of one layer, and between layers (where the arrows run).
const GAP: f64 = 16.0;
const LAYER_GAP: f64 = 44.0;
/// Inside a task drawn with its subtasks: the header with its name, and the margin around them.
const HEADER: f64 = 40.0;
const INSET: f64 = 12.0;
const TITLE_HEIGHT: f64 = 30.0;

/// Which way dependencies point: `down` (the default, as in Tilebox), `up`, `right`, `left`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Direction {
    #[default]
    Down,
    Up,
    Right,
    Left,
}

impl Direction {
    /// The direction a request names; anything else (`""`, unknown words) is `down`.
    pub fn parse(text: &str) -> Self {
        match text.trim().to_ascii_lowercase().as_str() {
            "up" => Direction::Up,
            "right" => Direction::Right,
            "left" => Direction::Left,
            _ => Direction::Down,
        }
    }

    fn vertical(self) -> bool {
        matches!(self, Direction::Down | Direction::Up)
    }

    fn reversed(self) -> bool {
        matches!(self, Direction::Up | Direction::Left)
    }
}

/// How to lay a diagram out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphOptions {
    pub direction: Direction,
    /// Space around the drawing (px, at most 100).
    pub padding: f64,
    /// A title line above the tasks (the job's name), when set.
    pub title: Option<String>,
}

/// One box: a task, several alike sibling tasks, or the siblings left out.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    /// Indices into the tasks the layout was built from; the first is the one a click selects.
    pub tasks: Vec<usize>,
    pub label: String,
    /// The task's tag (input summary or display), a group's counts, or what was left out.
    pub detail: String,
    /// The full text for a tooltip.
    pub title: String,
    /// `computed`, `failed`, `running`, `queued`, `skipped`, `failed-optional`: a group's most
    /// pressing state (failed before running before queued …).
    pub state: &'static str,
    /// Left-out siblings ("+ n more"), not tasks of their own.
    pub overflow: bool,
    /// Whether its subtasks are drawn inside it.
    pub container: bool,
    /// Tasks below it that are not drawn (past the depth or the box budget): its detail
    /// counts them, and [`TaskGraph::node_of`] finds this box for them.
    pub hidden: Vec<usize>,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// An arrow from a dependency's box to its dependent's.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphEdge {
    pub from: usize,
    pub to: usize,
    /// An SVG path (`d`).
    pub path: String,
}

/// A laid-out job: boxes (containers before what they hold), arrows, and the drawing's size.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskGraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub width: f64,
    pub height: f64,
    pub title: Option<String>,
    /// How many tasks the diagram stands for (all of them, boxed or counted).
    pub task_count: usize,
}

impl TaskGraph {
    /// The box that shows task `task` (its own, its group's, or the "more" box it is in).
    pub fn node_of(&self, task: usize) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.tasks.contains(&task))
            .or_else(|| self.nodes.iter().position(|n| n.hidden.contains(&task)))
    }
}

/// A box before it is placed: what it shows, what it holds and where it sits in its block.
struct Item {
    tasks: Vec<usize>,
    overflow: bool,
    /// Dependencies among its siblings (item ids).
    deps: Vec<usize>,
    /// Its subtasks' block, when drawn inside it.
    block: Option<Block>,
    /// The tasks below it that are not drawn.
    hidden: Vec<usize>,
    width: f64,
    height: f64,
    x: f64,
    y: f64,
}

/// Sibling boxes laid out in layers; positions relative to the block's corner.
struct Block {
    items: Vec<usize>,
    width: f64,
    height: f64,
}

struct Builder<'a> {
    tasks: &'a [TaskView],
    children: HashMap<Option<usize>, Vec<usize>>,
    direction: Direction,
    items: Vec<Item>,
}

/// Lays `tasks` (a job's, as the store lists them: parents before their subtasks) out.
pub fn task_graph(tasks: &[TaskView], options: &GraphOptions) -> TaskGraph {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        // A parent the job does not hold (never, from the store) makes a root.
        let parent = task
            .parent_id
            .as_deref()
            .and_then(|p| index.get(p).copied());
        children.entry(parent).or_default().push(i);
    }
    let mut builder = Builder {
        tasks,
        children,
        direction: options.direction,
        items: Vec::new(),
    };
    let roots = builder.children.get(&None).cloned().unwrap_or_default();
    let root = builder.block(&roots, 0);
    let padding = options.padding.clamp(0.0, 100.0);
    let title_height = if options.title.is_some() {
        TITLE_HEIGHT
    } else {
        0.0
    };
    let mut graph = TaskGraph {
        width: root.width + 2.0 * padding,
        height: root.height + 2.0 * padding + title_height,
        title: options.title.clone(),
        task_count: tasks.len(),
        ..TaskGraph::default()
    };
    let mut node_of_item = HashMap::new();
    builder.place(
        &root,
        padding,
        padding + title_height,
        &mut graph,
        &mut node_of_item,
    );
    builder.arrows(&mut graph, &node_of_item);
    graph
}

impl Builder<'_> {
    /// The block of one sibling list: grouped, cut to the budget, measured and laid out.
    fn block(&mut self, siblings: &[usize], depth: usize) -> Block {
        let items = self.sibling_items(siblings);
        for &item in &items {
            self.measure(item, depth);
        }
        self.layers(items)
    }

    /// Every task below `tasks` (not themselves), walked without recursion.
    fn descendants(&self, tasks: &[usize]) -> Vec<usize> {
        let mut found = Vec::new();
        let mut stack: Vec<usize> = tasks.to_vec();
        while let Some(task) = stack.pop() {
            if let Some(children) = self.children.get(&Some(task)) {
                found.extend_from_slice(children);
                stack.extend_from_slice(children);
            }
        }
        found
    }

    /// The boxes of a sibling list, in submission order, with their dependencies among them.
    fn sibling_items(&mut self, siblings: &[usize]) -> Vec<usize> {
        let position: HashMap<&str, usize> = siblings
            .iter()
            .enumerate()
            .map(|(p, &t)| (self.tasks[t].id.as_str(), p))
            .collect();
        let deps: Vec<Vec<usize>> = siblings
            .iter()
            .map(|&t| {
                let mut deps: Vec<usize> = self.tasks[t]
                    .depends_on
                    .iter()
                    .filter_map(|d| position.get(d.as_str()).copied())
                    .collect();
                deps.sort_unstable();
                deps.dedup();
                deps
            })
            .collect();
        let mut dependents = vec![Vec::new(); siblings.len()];
        for (p, list) in deps.iter().enumerate() {
            for &d in list {
                dependents[d].push(p);
            }
        }
        // Alike siblings: one name, the same dependencies and dependents, no subtasks.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of_key: HashMap<(&str, &[usize], &[usize]), usize> = HashMap::new();
        for (p, &t) in siblings.iter().enumerate() {
            let leaf = !self.children.contains_key(&Some(t));
            let key = (
                self.tasks[t].identifier_name.as_str(),
                deps[p].as_slice(),
                dependents[p].as_slice(),
            );
            match group_of_key.get(&key) {
                Some(&g) if leaf => groups[g].push(p),
                _ => {
                    if leaf {
                        group_of_key.insert(key, groups.len());
                    }
                    groups.push(vec![p]);
                }
            }
        }
        // Small groups are their tasks, each a box; boxes in order of first appearance.
        let mut order: Vec<(usize, Vec<usize>)> = Vec::new();
        for group in groups {
            if group.len() > GROUP_OVER {
                order.push((group[0], group));
            } else {
                order.extend(group.into_iter().map(|p| (p, vec![p])));
            }
        }
        order.sort_by_key(|(first, _)| *first);
        // The budget: the rest of the list beyond it is one box.
        let room = MAX_BOXES.saturating_sub(self.items.len()).max(1);
        let overflowed = order.len() > room;
        if overflowed {
            let rest: Vec<usize> = order.drain(room - 1..).flat_map(|(_, m)| m).collect();
            order.push((rest[0], rest));
        }
        let mut unit_of = vec![0; siblings.len()];
        for (u, (_, members)) in order.iter().enumerate() {
            for &p in members {
                unit_of[p] = u;
            }
        }
        let units: Vec<Vec<usize>> = order.into_iter().map(|(_, m)| m).collect();
        let first_item = self.items.len();
        for (u, members) in units.iter().enumerate() {
            let mut unit_deps: Vec<usize> = members
                .iter()
                .flat_map(|&p| deps[p].iter().map(|&d| unit_of[d]))
                .filter(|&d| d != u)
                .map(|d| first_item + d)
                .collect();
            unit_deps.sort_unstable();
            unit_deps.dedup();
            self.items.push(Item {
                tasks: members.iter().map(|&p| siblings[p]).collect(),
                overflow: overflowed && u == units.len() - 1,
                deps: unit_deps,
                block: None,
                hidden: Vec::new(),
                width: 0.0,
                height: 0.0,
                x: 0.0,
                y: 0.0,
            });
        }
        (first_item..self.items.len()).collect()
    }

    /// A box's size: its text, or its subtasks' block with a header. Subtasks are drawn
    /// inside a single task's box while the depth and the box budget allow; otherwise the box
    /// counts them.
    fn measure(&mut self, item: usize, depth: usize) {
        let single = self.items[item].tasks.len() == 1 && !self.items[item].overflow;
        let task = self.items[item].tasks[0];
        let subtasks = self.children.get(&Some(task)).cloned();
        let drawn = match subtasks {
            Some(subtasks) if single && depth < MAX_DEPTH && self.items.len() < MAX_BOXES => {
                Some(self.block(&subtasks, depth + 1))
            }
            _ => None,
        };
        if drawn.is_none() {
            self.items[item].hidden = self.descendants(&self.items[item].tasks.clone());
        }
        let (label, detail) = self.texts(item);
        let text_width = (label.chars().count() as f64 * LABEL_CHAR_PX)
            .max(detail.chars().count() as f64 * DETAIL_CHAR_PX)
            + 2.0 * INSET;
        let own_width = text_width.max(MIN_BOX_WIDTH);
        let (width, height) = match &drawn {
            Some(block) => (
                own_width.max(block.width + 2.0 * INSET),
                block.height + HEADER + INSET,
            ),
            None => (own_width, BOX_HEIGHT),
        };
        let item = &mut self.items[item];
        item.width = width;
        item.height = height;
        item.block = drawn;
    }

    /// Layers by dependency depth, each ordered by where its dependencies sit, rows wrapped.
    fn layers(&mut self, items: Vec<usize>) -> Block {
        let first = items.first().copied().unwrap_or(0);
        let local = |d: usize| d.checked_sub(first).filter(|&d| d < items.len());
        // Longest path from the boxes without dependencies (Kahn's order); a box in a cycle,
        // which only the left-out box can make, goes below the rest.
        let mut waiting: Vec<usize> = items
            .iter()
            .map(|&i| {
                self.items[i]
                    .deps
                    .iter()
                    .filter(|&&d| local(d).is_some())
                    .count()
            })
            .collect();
        let mut dependents = vec![Vec::new(); items.len()];
        for (k, &item) in items.iter().enumerate() {
            for d in self.items[item].deps.iter().filter_map(|&d| local(d)) {
                dependents[d].push(k);
            }
        }
        let mut layer = vec![usize::MAX; items.len()];
        let mut ready: Vec<usize> = (0..items.len()).filter(|&k| waiting[k] == 0).collect();
        for &k in &ready {
            layer[k] = 0;
        }
        while let Some(k) = ready.pop() {
            for &next in &dependents[k] {
                layer[next] = if layer[next] == usize::MAX {
                    layer[k] + 1
                } else {
                    layer[next].max(layer[k] + 1)
                };
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.push(next);
                }
            }
        }
        let settled = (0..items.len())
            .filter(|&k| waiting[k] == 0)
            .map(|k| layer[k] + 1)
            .max()
            .unwrap_or(0);
        for (k, l) in layer.iter_mut().enumerate() {
            if waiting[k] > 0 {
                *l = settled;
            }
        }
        let depth = layer.iter().max().map_or(0, |m| m + 1);
        let mut layers: Vec<Vec<usize>> = vec![Vec::new(); depth];
        for (k, &l) in layer.iter().enumerate() {
            layers[l].push(k);
        }
        // Crossings: a box sits near the mean place of its dependencies in the layers before.
        let mut place = vec![0.0f64; items.len()];
        for members in &mut layers {
            let keys: Vec<(f64, usize)> = members
                .iter()
                .map(|&k| {
                    let deps: Vec<f64> = self.items[items[k]]
                        .deps
                        .iter()
                        .filter_map(|&d| local(d))
                        .map(|d| place[d])
                        .collect();
                    let key = if deps.is_empty() {
                        k as f64
                    } else {
                        deps.iter().sum::<f64>() / deps.len() as f64
                    };
                    (key, k)
                })
                .collect();
            let mut keyed = keys;
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            *members = keyed.into_iter().map(|(_, k)| k).collect();
            for (p, &k) in members.iter().enumerate() {
                place[k] = p as f64;
            }
        }
        if self.direction.reversed() {
            layers.reverse();
        }
        let vertical = self.direction.vertical();
        // (main, cross) extents of a box: along the dependencies and across them.
        let extent = |item: &Item| {
            if vertical {
                (item.height, item.width)
            } else {
                (item.width, item.height)
            }
        };
        let mut rows: Vec<Vec<usize>> = Vec::new();
        for members in &layers {
            rows.extend(members.chunks(ROW_OF).map(<[usize]>::to_vec));
        }
        let row_sizes: Vec<(f64, f64)> = rows
            .iter()
            .map(|row| {
                let main = row
                    .iter()
                    .map(|&k| extent(&self.items[items[k]]).0)
                    .fold(0.0, f64::max);
                let cross = row
                    .iter()
                    .map(|&k| extent(&self.items[items[k]]).1)
                    .sum::<f64>()
                    + GAP * row.len().saturating_sub(1) as f64;
                (main, cross)
            })
            .collect();
        let cross_total = row_sizes.iter().map(|s| s.1).fold(0.0, f64::max);
        let mut main = 0.0;
        for (row, (row_main, row_cross)) in rows.iter().zip(&row_sizes) {
            let mut cross = (cross_total - row_cross) / 2.0;
            for &k in row {
                let item = &mut self.items[items[k]];
                let (item_main, item_cross) = extent(item);
                let centred = main + (row_main - item_main) / 2.0;
                if vertical {
                    item.x = cross;
                    item.y = centred;
                } else {
                    item.x = centred;
                    item.y = cross;
                }
                cross += item_cross + GAP;
            }
            main += row_main + LAYER_GAP;
        }
        let main_total = (main - LAYER_GAP).max(0.0);
        let (width, height) = if vertical {
            (cross_total, main_total)
        } else {
            (main_total, cross_total)
        };
        Block {
            items,
            width,
            height,
        }
    }

    /// Places a block's boxes at `(x, y)` and, inside each, its subtasks' block.
    fn place(
        &self,
        block: &Block,
        x: f64,
        y: f64,
        graph: &mut TaskGraph,
        node_of_item: &mut HashMap<usize, usize>,
    ) {
        for &id in &block.items {
            let item = &self.items[id];
            let (label, detail) = self.texts(id);
            let node = GraphNode {
                tasks: item.tasks.clone(),
                title: self.title(id, &label, &detail),
                label: cut(&label, LABEL_CHARS),
                detail: cut(&detail, DETAIL_CHARS),
                state: self.state(id),
                overflow: item.overflow,
                container: item.block.is_some(),
                hidden: item.hidden.clone(),
                x: x + item.x,
                y: y + item.y,
                width: item.width,
                height: item.height,
            };
            let (node_x, node_y, width) = (node.x, node.y, node.width);
            node_of_item.insert(id, graph.nodes.len());
            graph.nodes.push(node);
            if let Some(inner) = &item.block {
                let inner_x = node_x + (width - inner.width) / 2.0;
                self.place(inner, inner_x, node_y + HEADER, graph, node_of_item);
            }
        }
    }

    /// The arrows: from each dependency's box to its dependent's, leaving and entering the
    /// sides that face along the direction.
    fn arrows(&self, graph: &mut TaskGraph, node_of_item: &HashMap<usize, usize>) {
        for (id, item) in self.items.iter().enumerate() {
            let Some(&to) = node_of_item.get(&id) else {
                continue;
            };
            for dep in &item.deps {
                let Some(&from) = node_of_item.get(dep) else {
                    continue;
                };
                let path = arrow_path(&graph.nodes[from], &graph.nodes[to], self.direction);
                graph.edges.push(GraphEdge { from, to, path });
            }
        }
    }

    /// What a box says: its name, and its tag, group counts or left-out count.
    fn texts(&self, id: usize) -> (String, String) {
        let item = &self.items[id];
        let first = &self.tasks[item.tasks[0]];
        let name = if first.display.is_empty() {
            first.identifier_name.clone()
        } else {
            first.display.clone()
        };
        if item.overflow {
            return (
                format!("+ {} more tasks", item.tasks.len()),
                with_hidden(state_counts(self.tasks, &item.tasks), item.hidden.len()),
            );
        }
        if item.tasks.len() > 1 {
            let label = format!("{} × {}", first.identifier_name, item.tasks.len());
            return (label, state_counts(self.tasks, &item.tasks));
        }
        let mut detail = first.tag(&name);
        if first.retry_count > 0 {
            let retries = format!(
                "retried {}×",
                first.retry_count.min(first.attempts.len() as i64).max(1)
            );
            detail = if detail.is_empty() {
                retries
            } else {
                format!("{detail} · {retries}")
            };
        }
        if detail.is_empty() {
            detail = first.state.to_ascii_lowercase().replace('_', " ");
        }
        (name, with_hidden(detail, item.hidden.len()))
    }

    fn title(&self, id: usize, label: &str, detail: &str) -> String {
        let item = &self.items[id];
        if item.tasks.len() > 1 {
            return format!("{label}: {detail}");
        }
        let task = &self.tasks[item.tasks[0]];
        let version = if task.identifier_version.is_empty() {
            String::new()
        } else {
            format!(" {}", task.identifier_version)
        };
        format!(
            "{}{version} · {} · {}",
            task.identifier_name,
            task.state.to_ascii_lowercase().replace('_', " "),
            if detail.is_empty() { label } else { detail }
        )
    }

    fn state(&self, id: usize) -> &'static str {
        self.items[id]
            .tasks
            .iter()
            .map(|&t| state_css(&self.tasks[t].state))
            .min_by_key(|s| urgency(s))
            .unwrap_or("queued")
    }
}

/// `detail`, then how many subtasks below the box are not drawn.
fn with_hidden(detail: String, hidden: usize) -> String {
    if hidden == 0 {
        return detail;
    }
    let count = format!(
        "{hidden} subtask{} not drawn",
        if hidden == 1 { "" } else { "s" }
    );
    if detail.is_empty() {
        count
    } else {
        format!("{detail} · {count}")
    }
}

/// A task state as the diagram's class names write it.
pub fn state_css(state: &str) -> &'static str {
    match state {
        "COMPUTED" => "computed",
        "FAILED" => "failed",
        "RUNNING" => "running",
        "SKIPPED" => "skipped",
        "FAILED_OPTIONAL" => "failed-optional",
        _ => "queued",
    }
}

/// Which state a group shows: the one that most needs a look.
fn urgency(state: &str) -> u8 {
    match state {
        "failed" => 0,
        "running" => 1,
        "failed-optional" => 2,
        "queued" => 3,
        "skipped" => 4,
        _ => 5,
    }
}

/// `90 computed · 6 failed`, most pressing first.
fn state_counts(tasks: &[TaskView], members: &[usize]) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for &t in members {
        let state = state_css(&tasks[t].state);
        match counts.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += 1,
            None => counts.push((state, 1)),
        }
    }
    counts.sort_by_key(|(s, _)| urgency(s));
    counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.replace('-', " ")))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `text` cut to `chars` characters with an ellipsis.
fn cut(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A curve from the side of `from` that faces along the direction to the facing side of `to`.
fn arrow_path(from: &GraphNode, to: &GraphNode, direction: Direction) -> String {
    let (x1, y1, x2, y2) = match direction {
        Direction::Down => (
            from.x + from.width / 2.0,
            from.y + from.height,
            to.x + to.width / 2.0,
            to.y,
        ),
        Direction::Up => (
            from.x + from.width / 2.0,
            from.y,
            to.x + to.width / 2.0,
            to.y + to.height,
        ),
        Direction::Right => (
            from.x + from.width,
            from.y + from.height / 2.0,
            to.x,
            to.y + to.height / 2.0,
        ),
        Direction::Left => (
            from.x,
            from.y + from.height / 2.0,
            to.x + to.width,
            to.y + to.height / 2.0,
        ),
    };
    let (c1, c2) = if direction.vertical() {
        let mid = (y1 + y2) / 2.0;
        ((x1, mid), (x2, mid))
    } else {
        let mid = (x1 + x2) / 2.0;
        ((mid, y1), (mid, y2))
    };
    format!(
        "M{x1:.1},{y1:.1} C{:.1},{:.1} {:.1},{:.1} {x2:.1},{y2:.1}",
        c1.0, c1.1, c2.0, c2.1
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::waterfall::fixtures::task;

    fn child(id: &str, parent: &str, name: &str, depends_on: &[&str]) -> TaskView {
        let mut task = task(id, depends_on);
        task.parent_id = Some(parent.into());
        task.identifier_name = name.into();
        task.display = name.into();
        task
    }

    fn node<'g>(graph: &'g TaskGraph, tasks: &[TaskView], id: &str) -> &'g GraphNode {
        let index = tasks
            .iter()
            .position(|t| t.id == id)
            .expect("a task of that id");
        &graph.nodes[graph.node_of(index).expect("a box for the task")]
    }

    fn inside(inner: &GraphNode, outer: &GraphNode) -> bool {
        inner.x >= outer.x
            && inner.y >= outer.y
            && inner.x + inner.width <= outer.x + outer.width
            && inner.y + inner.height <= outer.y + outer.height
    }

    /// The caches page's fan-in: a root with five producers and a sum that depends on them.
    fn fan_in(producers: usize) -> Vec<TaskView> {
        let mut tasks = vec![task("root", &[])];
        let ids: Vec<String> = (0..producers).map(|i| format!("p{i}")).collect();
        for id in &ids {
            tasks.push(child(id, "root", "ProduceRandomNumber", &[]));
        }
        let deps: Vec<&str> = ids.iter().map(String::as_str).collect();
        tasks.push(child("sum", "root", "PrintSum", &deps));
        tasks
    }

    #[test]
    fn test_subtasks_sit_inside_their_parent_and_dependents_below_their_dependencies() {
        let tasks = fan_in(5);
        let graph = task_graph(&tasks, &GraphOptions::default());
        assert_eq!(
            graph.nodes.len(),
            7,
            "five producers are boxes of their own"
        );
        let root = node(&graph, &tasks, "root");
        assert!(root.container);
        let sum = node(&graph, &tasks, "sum");
        for i in 0..5 {
            let producer = node(&graph, &tasks, &format!("p{i}"));
            assert!(inside(producer, root), "p{i} is drawn inside its parent");
            assert!(
                producer.y + producer.height < sum.y,
                "the sum is below p{i}"
            );
        }
        assert!(inside(sum, root));
        assert_eq!(graph.edges.len(), 5, "one arrow per dependency");
        assert!(graph.width >= root.width && graph.height >= root.height);
    }

    #[test]
    fn test_each_direction_puts_dependents_on_its_side() {
        let tasks = vec![task("a", &[]), task("b", &["a"])];
        for (direction, after) in [
            (
                Direction::Down,
                (|a: &GraphNode, b: &GraphNode| b.y > a.y + a.height)
                    as fn(&GraphNode, &GraphNode) -> bool,
            ),
            (Direction::Up, |a, b| b.y + b.height < a.y),
            (Direction::Right, |a, b| b.x > a.x + a.width),
            (Direction::Left, |a, b| b.x + b.width < a.x),
        ] {
            let options = GraphOptions {
                direction,
                ..GraphOptions::default()
            };
            let graph = task_graph(&tasks, &options);
            let (a, b) = (node(&graph, &tasks, "a"), node(&graph, &tasks, "b"));
            assert!(after(a, b), "{direction:?}: {a:?} then {b:?}");
        }
        assert_eq!(Direction::parse("RIGHT"), Direction::Right);
        assert_eq!(Direction::parse("sideways"), Direction::Down);
    }

    #[test]
    fn test_a_large_fan_out_is_one_box_that_counts_its_tasks_by_state() {
        let mut tasks = fan_in(200);
        tasks[3].state = "FAILED".into();
        tasks[4].state = "RUNNING".into();
        let graph = task_graph(&tasks, &GraphOptions::default());
        assert_eq!(graph.nodes.len(), 3, "root, one producers box, the sum");
        let group = node(&graph, &tasks, "p0");
        assert_eq!(group.tasks.len(), 200);
        assert_eq!(group.label, "ProduceRandomNumber × 200");
        assert_eq!(group.detail, "1 failed · 1 running · 198 computed");
        assert_eq!(
            group.state, "failed",
            "a group shows its most pressing state"
        );
        assert_eq!(
            graph.edges.len(),
            1,
            "the sum's 200 dependencies are one arrow"
        );
        // Up to the threshold, each task keeps its box.
        let graph = task_graph(&fan_in(GROUP_OVER), &GraphOptions::default());
        assert_eq!(graph.nodes.len(), GROUP_OVER + 2);
    }

    #[test]
    fn test_no_job_draws_more_than_the_box_budget() {
        // Distinct names, so nothing groups: 5,000 siblings.
        let mut tasks = vec![task("root", &[])];
        for i in 0..5000 {
            tasks.push(child(&format!("t{i}"), "root", &format!("Task{i}"), &[]));
        }
        let graph = task_graph(&tasks, &GraphOptions::default());
        assert!(graph.nodes.len() <= MAX_BOXES + 1, "{}", graph.nodes.len());
        let more = graph
            .nodes
            .iter()
            .find(|n| n.overflow)
            .expect("a + more box");
        let shown: usize = graph.nodes.iter().map(|n| n.tasks.len()).sum();
        assert_eq!(shown, 5001, "every task is in some box");
        assert!(more.label.starts_with("+ ") && more.label.ends_with(" more tasks"));
        assert_eq!(graph.task_count, 5001);
    }

    #[test]
    fn test_a_deep_chain_is_drawn_to_the_depth_limit_and_every_task_has_a_box() {
        // Each task submits one subtask, 5,000 deep: no recursion that deep, nothing lost.
        let mut tasks = vec![task("t0", &[])];
        for i in 1..5000 {
            tasks.push(child(&format!("t{i}"), &format!("t{}", i - 1), "Step", &[]));
        }
        let graph = task_graph(&tasks, &GraphOptions::default());
        assert_eq!(graph.nodes.len(), MAX_DEPTH + 1);
        let last = graph.nodes.last().expect("boxes");
        assert_eq!(last.hidden.len(), 5000 - MAX_DEPTH - 1);
        assert!(
            last.detail
                .ends_with(&format!("{} subtasks not drawn", last.hidden.len()))
        );
        for t in 0..tasks.len() {
            assert!(graph.node_of(t).is_some(), "task {t} has a box");
        }
    }

    #[test]
    fn test_the_svg_escapes_what_tasks_set_and_is_one_well_formed_document() {
        let mut tasks = vec![task("a", &[]), task("b", &["a"])];
        tasks[0].display = "</text><script>alert('x')</script>\u{1}".into();
        tasks[0].state = "FAILED".into();
        let options = GraphOptions {
            title: Some("job <&>".into()),
            ..GraphOptions::default()
        };
        let graph = task_graph(&tasks, &options);
        let svg = graph_svg(&graph, Theme::Dark, Some(0));
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;/text&gt;&lt;script&gt;alert(&#39;x&#39;)"));
        assert!(!svg.contains('\u{1}'));
        assert!(svg.contains("job &lt;&amp;&gt;"));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<g ").count(), 2);
        assert_eq!(svg.matches("class=\"graph__edge\"").count(), 1);
        assert!(svg.contains("graph__node--failed graph__node--selected"));
        assert!(svg.contains("#0d1117"), "the dark background");
    }
}
