//! The crash failpoints exist only in test and debug builds: a release build (no debug assertions, without the
//! `failpoints` feature) compiles `failpoint::hit` to nothing, so a release `glue` has no failpoint and no trace of
//! `GLUE_LOCAL_FAILPOINT`. Shown by compiling `src/failpoint.rs` the way a release build of glue-local compiles it,
//! and the way a debug build does (the check of the check).

use std::path::Path;
use std::process::Command;

/// The object code of `src/failpoint.rs` compiled as a release (or debug) build of glue-local compiles it.
fn object_of_failpoint_rs(release: bool, out: &Path) -> Vec<u8> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/failpoint.rs");
    let obj = out.join(if release { "release.o" } else { "debug.o" });
    let mut c = Command::new(rustc);
    c.args([
        "--edition",
        "2024",
        "--crate-type",
        "rlib",
        "--crate-name",
        "failpoint",
        "--emit",
        "obj",
        "-o",
    ])
    .arg(&obj)
    .arg(&src);
    if release {
        c.args(["-C", "opt-level=3", "-C", "debug-assertions=off"]);
    } else {
        c.args(["-C", "opt-level=0", "-C", "debug-assertions=on"]);
    }
    let status = c.output().expect("rustc runs");
    assert!(
        status.status.success(),
        "rustc {}: {}",
        src.display(),
        String::from_utf8_lossy(&status.stderr)
    );
    std::fs::read(&obj).expect("the object file")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn release_builds_have_no_failpoints() {
    let dir = tempfile::tempdir().unwrap();
    let debug = object_of_failpoint_rs(false, dir.path());
    assert!(
        contains(&debug, glue_local::failpoint::ENV.as_bytes()),
        "a debug build reads {}",
        glue_local::failpoint::ENV
    );
    let release = object_of_failpoint_rs(true, dir.path());
    assert!(
        !contains(&release, glue_local::failpoint::ENV.as_bytes()),
        "a release build must not read {}",
        glue_local::failpoint::ENV
    );
    assert!(
        !contains(&release, b"kill"),
        "a release build must not be able to kill itself"
    );
}
