//! The `cutover` binary: everything is in [`cutover::cli`].

use std::process::ExitCode;

// Records allocate and free many small strings and maps across threads;
// mimalloc measured faster than the system allocator on the replay benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cutover::cli::main()
}
