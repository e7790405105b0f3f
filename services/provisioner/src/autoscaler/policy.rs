//! The scaling policy of one pipeline.
//!
//! desired = ceil((queued + in-flight datums) / datums_per_worker), clamped to
//! the pipeline's bounds. Growth is applied at once; shrinking waits until
//! the smaller number has been enough for a whole cooldown, so a pause
//! between two jobs does not send workers away just before they are needed
//! again; with nothing outstanding for a cooldown the pipeline goes to zero
//! (or its minimum) and comes back on the next datum.
//!
//! Time is a `Duration` since an arbitrary start, so the same code runs live
//! (from a monotonic clock) and in the simulator (from the trace's clock).

use std::time::Duration;

use serde::Serialize;

/// The smallest and largest number of workers, after the pipeline's
/// `parallelism_spec`/`autoscaling` and the plan's quota are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

/// Tuning of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PolicyConfig {
    /// Outstanding datums one worker is expected to take care of.
    pub datums_per_worker: u32,
    /// How long fewer workers must have been enough before shrinking.
    pub cooldown: Duration,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig { datums_per_worker: 1, cooldown: Duration::from_secs(60) }
    }
}

/// What the policy sees at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub now: Duration,
    pub queued: u64,
    pub in_flight: u64,
    /// Workers that exist now (starting or running).
    pub current: u32,
}

/// Why the policy chose what it chose; logged and exported with each decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// More outstanding work than workers: grow now.
    ScaleUp,
    /// The number fits the work.
    Steady,
    /// Fewer workers would do, but not yet for a whole cooldown.
    Cooldown,
    /// Fewer workers have been enough for a cooldown.
    ScaleDown,
    /// Nothing outstanding for a cooldown: down to the minimum.
    Idle,
}

impl Reason {
    /// The reason as logs, metrics and `strata workspace inspect` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ScaleUp => "scale_up",
            Reason::Steady => "steady",
            Reason::Cooldown => "cooldown",
            Reason::ScaleDown => "scale_down",
            Reason::Idle => "idle",
        }
    }
}

/// One decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub desired: u32,
    /// What the work alone asks for, before cooldown.
    pub target: u32,
    pub reason: Reason,
}

/// The policy's state for one pipeline.
#[derive(Debug, Clone)]
pub struct Autoscaler {
    config: PolicyConfig,
    bounds: Bounds,
    /// Since when the target has been below the current number.
    below_since: Option<Duration>,
}

impl Autoscaler {
    /// A policy with `bounds` (a `max` below `min` is raised to `min`).
    pub fn new(config: PolicyConfig, bounds: Bounds) -> Self {
        let bounds = Bounds { min: bounds.min, max: bounds.max.max(bounds.min) };
        let config = PolicyConfig { datums_per_worker: config.datums_per_worker.max(1), ..config };
        Autoscaler { config, bounds, below_since: None }
    }

    /// The workers the outstanding datums ask for, within the bounds.
    pub fn target(&self, queued: u64, in_flight: u64) -> u32 {
        let outstanding = queued.saturating_add(in_flight);
        let wanted = outstanding.div_ceil(u64::from(self.config.datums_per_worker));
        u32::try_from(wanted).unwrap_or(u32::MAX).clamp(self.bounds.min, self.bounds.max)
    }

    /// Decides the number of workers for `observation`.
    pub fn decide(&mut self, observation: Observation) -> Decision {
        let target = self.target(observation.queued, observation.in_flight);
        let current = observation.current;
        if target >= current {
            self.below_since = None;
            let reason = if target > current { Reason::ScaleUp } else { Reason::Steady };
            return Decision { desired: target, target, reason };
        }
        let since = *self.below_since.get_or_insert(observation.now);
        if observation.now.saturating_sub(since) < self.config.cooldown {
            return Decision { desired: current, target, reason: Reason::Cooldown };
        }
        self.below_since = None;
        let idle = observation.queued == 0 && observation.in_flight == 0;
        Decision { desired: target, target, reason: if idle { Reason::Idle } else { Reason::ScaleDown } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_they_serialise() {
        for reason in [Reason::ScaleUp, Reason::Steady, Reason::Cooldown, Reason::ScaleDown, Reason::Idle] {
            assert_eq!(serde_json::to_value(reason).expect("json"), reason.as_str());
        }
    }

    fn at(secs: u64, queued: u64, in_flight: u64, current: u32) -> Observation {
        Observation { now: Duration::from_secs(secs), queued, in_flight, current }
    }

    fn policy(min: u32, max: u32) -> Autoscaler {
        let config = PolicyConfig { datums_per_worker: 4, cooldown: Duration::from_secs(60) };
        Autoscaler::new(config, Bounds { min, max })
    }

    #[test]
    fn outstanding_datums_set_the_target_within_the_bounds() {
        let policy = policy(0, 10);
        assert_eq!(policy.target(0, 0), 0);
        assert_eq!(policy.target(1, 0), 1);
        assert_eq!(policy.target(7, 1), 2, "ceil(8 / 4)");
        assert_eq!(policy.target(9, 0), 3);
        assert_eq!(policy.target(1_000, 0), 10, "clamped to max");
        assert_eq!(self::policy(2, 10).target(0, 0), 2, "clamped to min");
    }

    #[test]
    fn growth_is_immediate_and_shrinking_waits_a_cooldown() {
        let mut policy = policy(0, 10);
        assert_eq!(policy.decide(at(0, 40, 0, 0)), Decision { desired: 10, target: 10, reason: Reason::ScaleUp });
        let calm = policy.decide(at(10, 4, 4, 10));
        assert_eq!((calm.desired, calm.reason), (10, Reason::Cooldown));
        assert_eq!(policy.decide(at(69, 4, 4, 10)).reason, Reason::Cooldown);
        let down = policy.decide(at(70, 4, 4, 10));
        assert_eq!((down.desired, down.reason), (2, Reason::ScaleDown));
    }

    #[test]
    fn a_burst_during_the_cooldown_resets_it() {
        let mut policy = policy(0, 10);
        policy.decide(at(0, 40, 0, 0));
        policy.decide(at(10, 0, 4, 10));
        assert_eq!(policy.decide(at(50, 40, 0, 10)).reason, Reason::Steady);
        assert_eq!(policy.decide(at(80, 0, 0, 10)).reason, Reason::Cooldown, "the clock starts again");
        let idle = policy.decide(at(140, 0, 0, 10));
        assert_eq!((idle.desired, idle.reason), (0, Reason::Idle));
        assert_eq!(policy.decide(at(141, 1, 0, 0)).reason, Reason::ScaleUp, "back from zero on the next datum");
    }
}
