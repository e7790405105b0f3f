//! Nodes under the simulated workers: a worker pod needs a free slot on a
//! ready node before it starts, nodes take `boot_secs` to join, and each
//! node costs its hourly price from the moment it is asked for until it is
//! removed. What differs between the policies compared is how many nodes
//! are kept beyond what the scheduled pods fill:
//!
//! * **peak-fixed**: as many nodes as the peak worker count needs, always
//!   up, with that many workers (the baseline of a statically sized pool);
//! * **no buffer**: nodes join only for pending pods, and leave when empty
//!   for `consolidate_after_secs` (what Karpenter's consolidation does);
//! * **fixed buffer**: the same plus `fixed_buffer_nodes` spare nodes;
//! * **queue-driven**: placeholder pods keep room for the most workers the
//!   queue asked for in the last `forecast_window_secs`, so the rest of a
//!   burst finds warm nodes, and nothing once the queue has been empty for
//!   that long.

use serde::{Deserialize, Serialize};

use super::forecast::RecentPeak;

/// The nodes of a trace: one instance shape and how the cluster behaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeModel {
    /// The instance type, for the report (e.g. `c7i.2xlarge`).
    pub instance: String,
    /// How many workers fit on one node.
    pub workers_per_node: u32,
    /// On-demand price of one node, per hour.
    pub price_per_hour: f64,
    /// From asking for a node to its taking pods.
    pub boot_secs: f64,
    /// How long a node stays empty before it is removed.
    #[serde(default = "sixty")]
    pub consolidate_after_secs: f64,
    /// The spare nodes of the fixed-buffer policy.
    #[serde(default = "one")]
    pub fixed_buffer_nodes: u32,
    /// How far back the queue-driven policy looks for the demand to keep room for.
    #[serde(default = "five_minutes")]
    pub forecast_window_secs: f64,
}

fn sixty() -> f64 {
    60.0
}

fn one() -> u32 {
    1
}

fn five_minutes() -> f64 {
    300.0
}

/// How many nodes a run keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodePolicy {
    PeakFixed,
    NoBuffer,
    FixedBuffer,
    QueueDriven,
}

impl NodePolicy {
    pub const ALL: [NodePolicy; 4] =
        [NodePolicy::PeakFixed, NodePolicy::NoBuffer, NodePolicy::FixedBuffer, NodePolicy::QueueDriven];
}

impl std::fmt::Display for NodePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NodePolicy::PeakFixed => "fixed pool for the peak",
            NodePolicy::NoBuffer => "no buffer",
            NodePolicy::FixedBuffer => "fixed buffer",
            NodePolicy::QueueDriven => "queue-driven buffer",
        })
    }
}

/// The nodes of one run, advanced by the simulator's steps.
#[derive(Debug)]
pub(super) struct Nodes {
    pub model: NodeModel,
    pub policy: NodePolicy,
    /// When each node is (or was) ready.
    ready_at: Vec<f64>,
    /// Since when there have been more nodes than the target.
    excess_since: Option<f64>,
    /// The most workers wanted within the forecast window.
    recent: RecentPeak,
    pub node_seconds: f64,
    pub max_nodes: u32,
}

impl Nodes {
    pub fn new(model: NodeModel, policy: NodePolicy, peak_workers: u32) -> Self {
        let mut nodes = Nodes {
            ready_at: Vec::new(),
            excess_since: None,
            recent: RecentPeak::new(model.forecast_window_secs),
            node_seconds: 0.0,
            max_nodes: 0,
            model,
            policy,
        };
        let floor = nodes.floor(peak_workers);
        // Standing nodes are up before the trace starts.
        nodes.ready_at = vec![0.0; floor as usize];
        nodes.max_nodes = floor;
        nodes
    }

    fn for_workers(&self, workers: u32) -> u32 {
        workers.div_ceil(self.model.workers_per_node.max(1))
    }

    /// The nodes kept whatever the queue says.
    fn floor(&self, peak_workers: u32) -> u32 {
        match self.policy {
            NodePolicy::PeakFixed => self.for_workers(peak_workers),
            NodePolicy::FixedBuffer => self.model.fixed_buffer_nodes,
            NodePolicy::NoBuffer | NodePolicy::QueueDriven => 0,
        }
    }

    pub fn count(&self) -> u32 {
        u32::try_from(self.ready_at.len()).unwrap_or(u32::MAX)
    }

    /// Worker slots on nodes that have joined.
    pub fn ready_slots(&self, now: f64) -> u32 {
        let ready = self.ready_at.iter().filter(|at| **at <= now + 1e-9).count();
        u32::try_from(ready).unwrap_or(u32::MAX).saturating_mul(self.model.workers_per_node)
    }

    /// Sets the node count for `workers` pods (placed or pending), as the
    /// policy wants it at `now`.
    pub fn scale(&mut self, now: f64, workers: u32, peak_workers: u32) {
        let forecast = self.recent.observe(now, workers);
        let needed = match self.policy {
            NodePolicy::PeakFixed => 0,
            NodePolicy::NoBuffer => self.for_workers(workers),
            NodePolicy::FixedBuffer => self.for_workers(workers) + self.model.fixed_buffer_nodes,
            NodePolicy::QueueDriven => self.for_workers(workers.max(forecast)),
        };
        let target = needed.max(self.floor(peak_workers));
        let count = self.count();
        if target > count {
            self.excess_since = None;
            let boot = self.model.boot_secs;
            self.ready_at.extend(std::iter::repeat_n(now + boot, (target - count) as usize));
            self.max_nodes = self.max_nodes.max(target);
        } else if target < count {
            let since = *self.excess_since.get_or_insert(now);
            if now - since >= self.model.consolidate_after_secs {
                // The newest nodes go first: those still booting cost least.
                self.ready_at.sort_by(f64::total_cmp);
                self.ready_at.truncate(target as usize);
                self.excess_since = None;
            }
        } else {
            self.excess_since = None;
        }
    }

    pub fn tick(&mut self, step_secs: f64) {
        self.node_seconds += f64::from(self.count()) * step_secs;
    }

    pub fn settled(&self, peak_workers: u32) -> bool {
        self.count() <= self.floor(peak_workers)
    }

    pub fn cost(&self) -> f64 {
        self.node_seconds / 3600.0 * self.model.price_per_hour
    }
}
