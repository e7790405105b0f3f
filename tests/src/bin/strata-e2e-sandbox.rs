//! The sandbox helper for end-to-end tests: what `strata __sandbox` runs,
//! built in this package so tests can name it with `CARGO_BIN_EXE_…`.

fn main() {
    std::process::exit(strata_sandbox::helper_main());
}
