//! The plans an installation offers and what each one allows, read from a
//! TOML file (`plans.toml` in this crate is the default; the `plans_file`
//! setting names another). The hub enforces the organisation's limits
//! (seats, workspaces), the provisioner a workspace's (workers, CPU and
//! memory, storage, sleep), and billing sells the plans.
//!
//! Plans are listed smallest first and every limit grows (or stays) from
//! one to the next, which the loader checks: so a bigger plan includes a
//! smaller one, and a refusal can name the smallest plan that lifts it.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// The catalogue shipped with Strata.
const BUILT_IN: &str = include_str!("../plans.toml");

/// Why a catalogue cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the plans file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the plans file {origin} is not valid: {message}")]
    Parse { origin: String, message: String },
    #[error("the plans file {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// One plan, as the file writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// What APIs and the configuration call it, e.g. `team`.
    pub name: String,
    /// What people read, e.g. `Team`.
    pub title: String,
    /// Members of an organisation.
    pub seats: u64,
    /// Live workspaces of an organisation.
    pub workspaces: u64,
    /// Storage of one workspace.
    pub storage_gib: u64,
    /// Workers of one workspace, across its pipelines.
    pub workers: u64,
    /// CPU and memory of one worker (requests = limits).
    pub worker_cpu_millis: u64,
    pub worker_memory_mib: u64,
    /// Workers of one pipeline.
    pub max_parallelism: u64,
    /// How long job and worker logs are kept.
    pub log_retention_days: u64,
    /// An idle workspace's server stops after this quiet spell; absent:
    /// it never sleeps.
    #[serde(default)]
    pub sleep_after_minutes: Option<u64>,
    /// How long a failed payment leaves the workspaces running.
    pub grace_period_days: u64,
    /// What usage costs on this plan (none: it is free).
    #[serde(default)]
    pub prices: Prices,
}

/// A plan's prices in US dollars: seats by the month, usage by the unit.
/// A job's cost is its usage at these prices (docs/billing.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    pub seat_month: f64,
    /// One CPU-hour of a worker (3,600 CPU-seconds used).
    pub cpu_hour: f64,
    /// One GiB of worker memory held for an hour.
    pub memory_gib_hour: f64,
    /// One GiB stored for a month (730 hours).
    pub storage_gib_month: f64,
    /// One GiB read out of a workspace through the gateway.
    pub egress_gib: f64,
}

impl Prices {
    /// The price of `usage`, in US dollars.
    pub fn of(&self, usage: &Usage) -> f64 {
        const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
        usage.cpu_seconds / 3600.0 * self.cpu_hour
            + usage.memory_gib_seconds / 3600.0 * self.memory_gib_hour
            + usage.storage_gib_hours / 730.0 * self.storage_gib_month
            + usage.egress_bytes as f64 / GIB * self.egress_gib
    }
}

/// Metered usage, as a price applies to it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub memory_gib_seconds: f64,
    pub storage_gib_hours: f64,
    pub egress_bytes: u64,
}

/// A limit a plan sets, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Seats,
    Workspaces,
    StorageGib,
    Workers,
    MaxParallelism,
}

impl Limit {
    /// Every limit that must grow from plan to plan, with how to read it.
    const GROWING: [Limit; 5] =
        [Limit::Seats, Limit::Workspaces, Limit::StorageGib, Limit::Workers, Limit::MaxParallelism];

    /// The key of the plans file, and of `QUOTA_EXCEEDED` errors.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Seats => "seats",
            Limit::Workspaces => "workspaces",
            Limit::StorageGib => "storage_gib",
            Limit::Workers => "workers",
            Limit::MaxParallelism => "max_parallelism",
        }
    }

    /// `count` of this limit in words, e.g. "3 seats".
    pub fn amount(self, count: u64) -> String {
        match self {
            Limit::Seats => format!("{count} seat{}", plural(count)),
            Limit::Workspaces => format!("{count} workspace{}", plural(count)),
            Limit::StorageGib => format!("{count} GiB of storage per workspace"),
            Limit::Workers => format!("{count} worker{} per workspace", plural(count)),
            Limit::MaxParallelism => format!("{count} worker{} per pipeline", plural(count)),
        }
    }
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

impl Plan {
    /// The value of `limit` on this plan.
    pub fn limit(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Seats => self.seats,
            Limit::Workspaces => self.workspaces,
            Limit::StorageGib => self.storage_gib,
            Limit::Workers => self.workers,
            Limit::MaxParallelism => self.max_parallelism,
        }
    }

    /// The quiet spell after which an idle workspace on this plan sleeps.
    pub fn sleep_after(&self) -> Option<Duration> {
        self.sleep_after_minutes.map(|minutes| Duration::from_secs(minutes.saturating_mul(60)))
    }

    /// How long a failed payment leaves the workspaces running.
    pub fn grace_period(&self) -> Duration {
        Duration::from_secs(self.grace_period_days.saturating_mul(24 * 60 * 60))
    }
}

/// A limit reached: what the plan allows, what was wanted, and the
/// smallest plan that allows it (none when no plan does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct QuotaExceeded {
    pub limit: Limit,
    pub plan: String,
    pub allowed: u64,
    pub wanted: u64,
    pub lifted_by: Option<String>,
}

impl QuotaExceeded {
    fn message(&self) -> String {
        let lift = match &self.lifted_by {
            Some(plan) => format!("the {plan} plan lifts it"),
            None => "no plan allows more; ask the operator".to_owned(),
        };
        format!(
            "the {} plan allows {} and this needs {}: {lift}",
            self.plan,
            self.limit.amount(self.allowed),
            self.wanted
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    plans: Vec<Plan>,
}

/// Every plan, smallest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    plans: Vec<Plan>,
}

impl Catalogue {
    /// The catalogue shipped with Strata (`crates/plans/plans.toml`).
    pub fn built_in() -> Catalogue {
        #[allow(clippy::expect_used, reason = "the built-in file is checked by this crate's tests")]
        Catalogue::parse(BUILT_IN, "built in").expect("the built-in plans file is valid")
    }

    /// The catalogue in the file at `path`.
    pub fn load(path: &Path) -> Result<Catalogue, Error> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: origin.clone(), source })?;
        Catalogue::parse(&text, &origin)
    }

    /// The catalogue in `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Catalogue, Error> {
        let file: File =
            toml::from_str(text).map_err(|e| Error::Parse { origin: origin.to_owned(), message: e.to_string() })?;
        let catalogue = Catalogue { plans: file.plans };
        catalogue.check().map_err(|message| Error::Invalid { origin: origin.to_owned(), message })?;
        Ok(catalogue)
    }

    fn check(&self) -> Result<(), String> {
        if self.plans.is_empty() {
            return Err("it names no plan; a `[[plans]]` table is needed".to_owned());
        }
        for (index, plan) in self.plans.iter().enumerate() {
            let name_ok = !plan.name.is_empty()
                && plan.name.len() <= 32
                && plan.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !name_ok {
                return Err(format!("plan name `{}`: use 1 to 32 of a-z, 0-9 and -", plan.name));
            }
            if self.plans[..index].iter().any(|earlier| earlier.name == plan.name) {
                return Err(format!("plan `{}` is listed twice", plan.name));
            }
            if plan.worker_cpu_millis == 0 || plan.worker_memory_mib == 0 || plan.workers == 0 {
                return Err(format!(
                    "plan `{}`: workers, worker_cpu_millis and worker_memory_mib must be above 0",
                    plan.name
                ));
            }
        }
        for pair in self.plans.windows(2) {
            let (smaller, bigger) = (&pair[0], &pair[1]);
            if let Some(limit) = Limit::GROWING.into_iter().find(|l| bigger.limit(*l) < smaller.limit(*l)) {
                return Err(format!(
                    "`{}` comes after `{}` but allows less {}; list plans smallest first",
                    bigger.name,
                    smaller.name,
                    limit.key()
                ));
            }
        }
        Ok(())
    }

    /// Every plan, smallest first.
    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The plan a new organisation starts on (the smallest).
    pub fn default_plan(&self) -> &Plan {
        // `check` refuses an empty catalogue.
        &self.plans[0]
    }

    /// The plan called `name`, if there is one.
    pub fn named(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|plan| plan.name == name)
    }

    /// The plan called `name`, or the smallest for a name this catalogue
    /// does not have (a plan removed from the file since).
    pub fn named_or_default(&self, name: &str) -> &Plan {
        self.named(name).unwrap_or_else(|| self.default_plan())
    }

    /// Whether `bigger` includes `smaller` (it is listed at or after it).
    pub fn includes(&self, bigger: &Plan, smaller: &Plan) -> bool {
        self.rank(smaller) <= self.rank(bigger)
    }

    fn rank(&self, plan: &Plan) -> usize {
        self.plans.iter().position(|p| p.name == plan.name).unwrap_or(0)
    }

    /// Refuses `wanted` of `limit` beyond what `plan` allows, naming the
    /// smallest plan that allows it.
    pub fn check_limit(&self, plan: &Plan, limit: Limit, wanted: u64) -> Result<(), QuotaExceeded> {
        let allowed = plan.limit(limit);
        if wanted <= allowed {
            return Ok(());
        }
        let lifted_by = self.plans.iter().find(|p| p.limit(limit) >= wanted).map(|p| p.name.clone());
        Err(QuotaExceeded { limit, plan: plan.name.clone(), allowed, wanted, lifted_by })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(name: &str, seats: u64) -> String {
        format!(
            "[[plans]]\nname = \"{name}\"\ntitle = \"{name}\"\nseats = {seats}\nworkspaces = 1\nstorage_gib = 1\n\
             workers = 1\nworker_cpu_millis = 100\nworker_memory_mib = 64\nmax_parallelism = 1\n\
             log_retention_days = 1\ngrace_period_days = 0\n"
        )
    }

    #[test]
    fn the_built_in_catalogue_is_free_team_enterprise_each_including_the_one_before() {
        let catalogue = Catalogue::built_in();
        let names: Vec<&str> = catalogue.plans().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["free", "team", "enterprise"]);
        assert_eq!(catalogue.default_plan().name, "free");
        let (free, team) = (catalogue.named("free").unwrap(), catalogue.named("team").unwrap());
        assert!(catalogue.includes(team, free) && !catalogue.includes(free, team));
        assert_eq!(catalogue.named("enterprise").unwrap().sleep_after(), None, "enterprise never sleeps");
        assert_eq!(free.sleep_after(), Some(Duration::from_secs(15 * 60)));
        assert_eq!(catalogue.named_or_default("retired").name, "free");
    }

    #[test]
    fn a_limit_reached_names_the_plan_that_allows_more() {
        let catalogue = Catalogue::built_in();
        let free = catalogue.named("free").unwrap();
        assert!(catalogue.check_limit(free, Limit::Seats, 5).is_ok());
        let refused = catalogue.check_limit(free, Limit::Seats, 6).unwrap_err();
        assert_eq!(refused.lifted_by.as_deref(), Some("team"));
        assert_eq!(refused.to_string(), "the free plan allows 5 seats and this needs 6: the team plan lifts it");
        let beyond = catalogue.check_limit(free, Limit::Workspaces, 501).unwrap_err();
        assert_eq!(beyond.lifted_by, None);
        assert!(beyond.to_string().ends_with("no plan allows more; ask the operator"), "{beyond}");
    }

    #[test]
    fn a_file_must_list_plans_smallest_first_with_names_once() {
        let error = |text: &str| Catalogue::parse(text, "plans.toml").unwrap_err().to_string();
        assert!(error("plans = []").contains("names no plan"));
        let shrinking = format!("{}{}", plan("big", 10), plan("small", 5));
        assert!(error(&shrinking).contains("`small` comes after `big` but allows less seats"), "{}", error(&shrinking));
        let twice = format!("{}{}", plan("one", 1), plan("one", 2));
        assert!(error(&twice).contains("listed twice"));
        assert!(error(&plan("Gold", 1)).contains("plan name `Gold`"));
        let typo = plan("one", 1).replace("seats", "seat");
        assert!(error(&typo).contains("unknown field `seat`"), "{}", error(&typo));
        let ok = Catalogue::parse(&format!("{}{}", plan("one", 1), plan("two", 1)), "plans.toml").unwrap();
        assert_eq!(ok.plans().len(), 2);
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let error = Catalogue::load(Path::new("/nonexistent/plans.toml")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/plans.toml"), "{error}");
    }
}
