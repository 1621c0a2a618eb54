//! Failpoints for the crash-safety tests: when the environment variable `GLUE_LOCAL_FAILPOINT` names a failpoint
//! (`name`, or `name@n` for its n-th hit in the process), the process kills itself with SIGKILL there: no
//! destructors, no flush, as a crash would. Unset, `hit` is one environment lookup, on write paths only.
//!
//! Only test and debug builds have them (`debug_assertions`, which `cargo test` and `cargo build` keep on), or a
//! build with the `failpoints` feature: in a release build [`hit`] is an empty inline function, so a release `glue`
//! neither reads the variable nor can kill itself (`tests/failpoints_release.rs` checks the object code).

/// The environment variable naming the failpoint to crash at.
pub const ENV: &str = "GLUE_LOCAL_FAILPOINT";

/// Whether this build has failpoints (debug and test builds, or the `failpoints` feature).
pub const ENABLED: bool = cfg!(any(debug_assertions, feature = "failpoints"));

#[cfg(any(debug_assertions, feature = "failpoints"))]
static HITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Crashes the process if `name` is the configured failpoint (at its configured hit).
#[cfg(any(debug_assertions, feature = "failpoints"))]
pub fn hit(name: &str) {
    use std::sync::atomic::Ordering;
    let Some(v) = std::env::var_os(ENV) else {
        return;
    };
    let v = v.to_string_lossy();
    let (point, nth) = match v.split_once('@') {
        Some((p, n)) => (p, n.parse::<u64>().unwrap_or(1)),
        None => (v.as_ref(), 1),
    };
    if point != name {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
        std::process::abort(); // only if `kill` is missing
    }
}

/// A release build: no failpoints.
#[cfg(not(any(debug_assertions, feature = "failpoints")))]
#[inline(always)]
pub fn hit(_name: &str) {}
