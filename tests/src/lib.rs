//! End-to-end tests of Strata live in `tests/e2e/`; they start the real
//! application through `strata-testkit` against SQLite and PostgreSQL.
