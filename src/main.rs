//! The `cutover` binary: its allocator, and [`cutover::cli`], where
//! everything else is.

use std::process::ExitCode;

// Records allocate and free many small strings and maps across threads;
// mimalloc measured faster than the system allocator on the replay benchmark.
// It is built with `no_thp` (Cargo.toml): it never asks for transparent huge
// pages, which more than doubled a replay's peak memory and made it no faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: in mimalloc.h (v2 and v3) the option
/// just before `mi_option_use_numa_nodes`, which the crate does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

fn main() -> ExitCode {
    cutover::cli::main(tune_allocator)
}

/// Freed memory goes back to the OS at once, not 10 ms later: with big
/// records the allocator otherwise keeps tens of MiB of freed pages, and
/// peak memory would not track what records hold (--max-inflight-bytes).
/// A MIMALLOC_PURGE_DELAY in the environment wins.
///
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
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a plain integer option; mimalloc allows it at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}
