//! How many workers a pipeline should have, decided from its outstanding
//! datums (`policy`), and a simulator that replays a queue trace through
//! that same policy and two baselines (`simulate`), with an SVG of the run
//! (`plot`).

mod forecast;
mod nodes;
mod plot;
mod policy;
mod simulate;

pub use forecast::RecentPeak;
pub use nodes::{NodeModel, NodePolicy};
pub use plot::svg;
pub use policy::{Autoscaler, Bounds, Decision, Observation, PolicyConfig, Reason};
pub use simulate::{Job, NodeOutcome, Outcome, Policy, Sample, SimulationError, Trace, simulate, simulate_nodes};
