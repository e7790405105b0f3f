//! PPS's own state types: what the master's state machine runs on and what
//! the database rows and plan objects hold.
//!
//! The wire types of `strata_api_types::pps` are made from these at the
//! edge (HTTP answers, the worker protocol) with `From`, so a change to the
//! wire, such as a renamed JSON field, cannot change what is stored. What is
//! stored, and how, is pinned by the tests at the end of this file:
//! - job and datum states: in the database as [`JobState::as_str`] and
//!   [`DatumState::as_str`]; datum states in plan objects by the position
//!   of the variant (postcard), so a new state goes at the end;
//! - [`JobStats`] and [`DatumStats`]: JSON objects with these field names;
//! - [`DatumInput`]: in plan objects, every field in this order.

use serde::{Deserialize, Serialize};
use strata_api_types::pps as wire;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Created,
    Starting,
    Running,
    Finishing,
    Success,
    Failure,
    Killed,
    Unrunnable,
}

impl JobState {
    pub const ALL: [JobState; 8] = [
        JobState::Created,
        JobState::Starting,
        JobState::Running,
        JobState::Finishing,
        JobState::Success,
        JobState::Failure,
        JobState::Killed,
        JobState::Unrunnable,
    ];

    /// The name stored in the database (and shown in logs and metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Created => "CREATED",
            JobState::Starting => "STARTING",
            JobState::Running => "RUNNING",
            JobState::Finishing => "FINISHING",
            JobState::Success => "SUCCESS",
            JobState::Failure => "FAILURE",
            JobState::Killed => "KILLED",
            JobState::Unrunnable => "UNRUNNABLE",
        }
    }

    /// The state stored as `text`; `None` for a name no state has.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// True once the job can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Success | JobState::Failure | JobState::Killed | JobState::Unrunnable)
    }

    /// The stored names of the terminal states, for queries.
    pub(crate) fn terminal_names() -> Vec<&'static str> {
        Self::ALL.into_iter().filter(|s| s.is_terminal()).map(Self::as_str).collect()
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<JobState> for wire::JobState {
    fn from(state: JobState) -> Self {
        match state {
            JobState::Created => wire::JobState::Created,
            JobState::Starting => wire::JobState::Starting,
            JobState::Running => wire::JobState::Running,
            JobState::Finishing => wire::JobState::Finishing,
            JobState::Success => wire::JobState::Success,
            JobState::Failure => wire::JobState::Failure,
            JobState::Killed => wire::JobState::Killed,
            JobState::Unrunnable => wire::JobState::Unrunnable,
        }
    }
}

/// What happened to a datum in a job. Serialized (by variant position)
/// only into plan objects: the order of the variants is part of that format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DatumState {
    /// Not done yet.
    Pending,
    Processed,
    Skipped,
    Failed,
    Recovered,
}

impl DatumState {
    /// Every state, in lifecycle order.
    pub const ALL: [DatumState; 5] =
        [DatumState::Pending, DatumState::Processed, DatumState::Skipped, DatumState::Failed, DatumState::Recovered];

    /// The name stored in the database (and used in metrics and queries).
    pub fn as_str(self) -> &'static str {
        match self {
            DatumState::Pending => "pending",
            DatumState::Processed => "processed",
            DatumState::Skipped => "skipped",
            DatumState::Failed => "failed",
            DatumState::Recovered => "recovered",
        }
    }

    /// The state named `text` (any case); `None` for a name no state has.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// The datum's output is in the commit and its hash may be skipped next time.
    pub fn succeeded(self) -> bool {
        matches!(self, DatumState::Processed | DatumState::Skipped)
    }
}

impl From<DatumState> for wire::DatumState {
    fn from(state: DatumState) -> Self {
        match state {
            DatumState::Pending => wire::DatumState::Pending,
            DatumState::Processed => wire::DatumState::Processed,
            DatumState::Skipped => wire::DatumState::Skipped,
            DatumState::Failed => wire::DatumState::Failed,
            DatumState::Recovered => wire::DatumState::Recovered,
        }
    }
}

impl From<wire::DatumState> for DatumState {
    fn from(state: wire::DatumState) -> Self {
        match state {
            wire::DatumState::Pending => DatumState::Pending,
            wire::DatumState::Processed => DatumState::Processed,
            wire::DatumState::Skipped => DatumState::Skipped,
            wire::DatumState::Failed => DatumState::Failed,
            wire::DatumState::Recovered => DatumState::Recovered,
        }
    }
}

/// Datums of a job by state. `total` = processed + skipped + failed +
/// recovered + those not yet done. Stored as columns of the job's row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatumCounts {
    pub total: u64,
    pub processed: u64,
    pub skipped: u64,
    pub failed: u64,
    pub recovered: u64,
}

impl DatumCounts {
    /// Datums not yet done (queued or running).
    pub fn outstanding(&self) -> u64 {
        self.total.saturating_sub(self.processed + self.skipped + self.failed + self.recovered)
    }
}

impl From<DatumCounts> for wire::DatumCounts {
    fn from(c: DatumCounts) -> Self {
        wire::DatumCounts {
            total: c.total,
            processed: c.processed,
            skipped: c.skipped,
            failed: c.failed,
            recovered: c.recovered,
        }
    }
}

/// Time and bytes a job's datums spent; stored as JSON on the job's row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub download_secs: f64,
    pub process_secs: f64,
    pub upload_secs: f64,
    /// Stored since billing; rows from before read as zero.
    #[serde(default)]
    pub cpu_secs: f64,
}

impl JobStats {
    /// Adds one datum's figures.
    pub fn add(&mut self, datum: &DatumStats) {
        self.bytes_in += datum.bytes_in;
        self.bytes_out += datum.bytes_out;
        self.download_secs += datum.download_secs;
        self.process_secs += datum.process_secs;
        self.upload_secs += datum.upload_secs;
        self.cpu_secs += datum.cpu_secs;
    }
}

impl From<JobStats> for wire::JobStats {
    fn from(s: JobStats) -> Self {
        wire::JobStats {
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            download_secs: s.download_secs,
            process_secs: s.process_secs,
            upload_secs: s.upload_secs,
            cpu_secs: s.cpu_secs,
        }
    }
}

/// Timings of one datum; stored as JSON on the datum's row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DatumStats {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub download_secs: f64,
    pub process_secs: f64,
    pub upload_secs: f64,
    #[serde(default)]
    pub cpu_secs: f64,
}

impl From<DatumStats> for wire::DatumStats {
    fn from(s: DatumStats) -> Self {
        wire::DatumStats {
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            download_secs: s.download_secs,
            process_secs: s.process_secs,
            upload_secs: s.upload_secs,
            cpu_secs: s.cpu_secs,
        }
    }
}

impl From<wire::DatumStats> for DatumStats {
    fn from(s: wire::DatumStats) -> Self {
        DatumStats {
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            download_secs: s.download_secs,
            process_secs: s.process_secs,
            upload_secs: s.upload_secs,
            cpu_secs: s.cpu_secs,
        }
    }
}

/// One input file or directory of a datum. Stored in plan objects with
/// every field present, in this order (postcard has no field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatumInput {
    /// The input's name: the program reads `/pfs/<name>/<path>`.
    pub name: String,
    pub repo: String,
    pub commit: String,
    pub path: String,
    /// The join or group key, when the input has one.
    pub key: Option<String>,
}

impl From<DatumInput> for wire::DatumInput {
    fn from(i: DatumInput) -> Self {
        wire::DatumInput { name: i.name, repo: i.repo, commit: i.commit, path: i.path, key: i.key }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database holds these names; changing one orphans every stored row.
    #[test]
    fn stored_state_names_stay_as_they_were() {
        let jobs: Vec<_> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(jobs, ["CREATED", "STARTING", "RUNNING", "FINISHING", "SUCCESS", "FAILURE", "KILLED", "UNRUNNABLE"]);
        let datums: Vec<_> = DatumState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(datums, ["pending", "processed", "skipped", "failed", "recovered"]);
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("PAUSED"), None);
        assert_eq!(DatumState::parse("lost"), None);
    }

    /// Stats are JSON in the database, written by this type and not by the
    /// wire type, whose field names may change without touching these.
    #[test]
    fn stored_stats_keep_their_json_field_names() {
        let stats = JobStats {
            bytes_in: 1,
            bytes_out: 2,
            download_secs: 0.5,
            process_secs: 1.5,
            upload_secs: 2.5,
            cpu_secs: 0.25,
        };
        let stored =
            r#"{"bytes_in":1,"bytes_out":2,"download_secs":0.5,"process_secs":1.5,"upload_secs":2.5,"cpu_secs":0.25}"#;
        assert_eq!(serde_json::to_string(&stats).unwrap(), stored);
        assert_eq!(serde_json::from_str::<JobStats>(stored).unwrap(), stats);
        // Rows written before CPU time was measured read as none used.
        let before = r#"{"bytes_in":1,"bytes_out":2,"download_secs":0.5,"process_secs":1.5,"upload_secs":2.5}"#;
        assert_eq!(serde_json::from_str::<JobStats>(before).unwrap(), JobStats { cpu_secs: 0.0, ..stats });
        let datum = DatumStats {
            bytes_in: 1,
            bytes_out: 2,
            download_secs: 0.5,
            process_secs: 1.5,
            upload_secs: 2.5,
            cpu_secs: 0.25,
        };
        assert_eq!(serde_json::to_string(&datum).unwrap(), stored);
    }

    /// Plans store datum states by variant position.
    #[test]
    fn datum_states_keep_their_position_in_plans() {
        let encoded: Vec<Vec<u8>> = DatumState::ALL.iter().map(|s| postcard::to_stdvec(s).unwrap()).collect();
        assert_eq!(encoded, [[0], [1], [2], [3], [4]]);
    }

    #[test]
    fn every_state_has_its_wire_twin() {
        for state in DatumState::ALL {
            let wire: wire::DatumState = state.into();
            assert_eq!(wire.as_str(), state.as_str());
            assert_eq!(DatumState::from(wire), state);
        }
        for state in JobState::ALL {
            assert_eq!(wire::JobState::from(state).as_str(), state.as_str());
        }
    }
}
