//! Failpoints for the crash-safety tests: when the environment variable `GLUE_LOCAL_FAILPOINT` names a failpoint,
//! the process kills itself with SIGKILL there (no destructors, no flush), as a crash would. Unset, `hit` is one
//! environment lookup on write paths only.

/// The environment variable naming the failpoint to crash at.
pub const ENV: &str = "GLUE_LOCAL_FAILPOINT";

/// Crashes the process if `name` is the configured failpoint.
pub fn hit(name: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == name) {
        // SIGKILL ourselves: the closest thing to pulling the plug that a test can do.
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
        std::process::abort();
    }
}
