//! Which request started each commit set, so that the jobs and datums it
//! sets off continue that request's trace (docs/operations.md, "Traces").
//!
//! Kept in memory and bounded: a trace helps a diagnosis, and a restarted
//! server simply starts new traces for work it resumes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use strata_core::id::CommitId;

/// How many commit sets' traces are remembered.
const KEPT: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct CommitTraces {
    state: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    order: VecDeque<CommitId>,
    traceparents: HashMap<CommitId, String>,
}

impl CommitTraces {
    /// Remembers the current span's trace for the commit set `id`.
    pub(super) fn note(&self, id: CommitId) {
        let Some(traceparent) = strata_core::telemetry::current_traceparent() else { return };
        let mut kept = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.traceparents.insert(id, traceparent).is_none() {
            kept.order.push_back(id);
        }
        while kept.order.len() > KEPT {
            if let Some(oldest) = kept.order.pop_front() {
                kept.traceparents.remove(&oldest);
            }
        }
    }

    pub(super) fn of(&self, id: CommitId) -> Option<String> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).traceparents.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_traces_make_room_and_untraced_work_notes_nothing() {
        strata_core::telemetry::init_for_tests();
        let traces = CommitTraces::default();
        let untraced = CommitId::new();
        traces.note(untraced);
        assert_eq!(traces.of(untraced), None, "no span, nothing to continue");
        let ids: Vec<CommitId> = (0..=KEPT).map(|_| CommitId::new()).collect();
        tracing::info_span!("request").in_scope(|| ids.iter().for_each(|id| traces.note(*id)));
        assert_eq!(traces.of(ids[0]), None, "the oldest went");
        assert!(traces.of(ids[KEPT]).is_some_and(|t| t.starts_with("00-")));
    }
}
