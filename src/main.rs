//! The `cutover` binary: its allocator, and [`cutover::cli`], where
//! everything else is.

use std::process::ExitCode;

// Records allocate and free many small strings and maps across threads;
// mimalloc measured faster than the system allocator on the replay benchmark.
// It is built with `no_thp` (Cargo.toml): it never asks for transparent huge
// pages, which more than doubled a replay's peak memory and made it no faster.
// Its own purge delay (freed pages go back to the OS 10 ms later) is kept:
// purging at once, as cutover did, made every freed page a system call, a
// TLB shootdown and a fresh page fault, and measured 1.8x slower on 1 MiB
// records and 3% slower on small ones, for 2-4 MiB less peak memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cutover::cli::main(tune_allocator)
}

/// glibc's own malloc (used only inside libc, everything of cutover's goes
/// to mimalloc) gets one arena: by default each thread that touches it
/// reserves 64 MiB of address space, and under an address-space limit
/// (`ulimit -v`, RLIMIT_AS) eight threads' reservations alone left no room
/// to start the input thread. A MALLOC_ARENA_MAX in the environment wins.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt sets a plain integer parameter of glibc's malloc;
        // called before the runtime starts its threads.
        unsafe { nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1) };
    }
}
