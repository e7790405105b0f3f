//! The sandbox helper on its own, for this crate's tests; the `strata` CLI runs the same
//! code as `strata __sandbox`.

fn main() {
    // Nothing may run before this: the helper must still be single-threaded when it
    // makes its namespace.
    std::process::exit(strata_sandbox::helper_main());
}
