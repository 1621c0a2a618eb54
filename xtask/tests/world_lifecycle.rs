//! `cargo xtask up` / `down` in a world directory of their own: `down` leaves no process behind, and a service that
//! fails to start fails `up` with the tail of its log (never a skip). Run by `cargo xtask it` (feature `it`).

use std::path::Path;
use std::process::{Command, Output};

fn xtask(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("GLUE_RS_WORLD_DIR", dir)
        .output()
        .expect("runs xtask")
}

/// Live (non-zombie) processes of a process group, as `ps` reports them.
fn members(pgid: u64) -> Vec<String> {
    let out = Command::new("ps")
        .args(["-e", "-o", "pid=,pgid=,stat="])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() == 3 && f[1] == pgid.to_string() && !f[2].starts_with('Z')).then(|| f[0].to_string())
        })
        .collect()
}

#[test]
fn up_then_down_leaves_no_process() {
    let dir = tempfile_dir("lifecycle");
    let up = xtask(&dir, &["up", "--only", "sim"]);
    assert!(
        up.status.success(),
        "up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(String::from_utf8_lossy(&up.stdout).contains("aws: http://127.0.0.1:"));
    let world: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("world.json")).expect("world.json")).expect("JSON");
    let groups: Vec<u64> = world["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pgid"].as_u64().unwrap())
        .collect();
    assert_eq!(groups.len(), 1);
    // The simulator runs a JVM beside its Python process: the group has at least two processes.
    assert!(members(groups[0]).len() >= 2, "{:?}", members(groups[0]));

    let down = xtask(&dir, &["down"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    for group in groups {
        assert_eq!(
            members(group),
            Vec::<String>::new(),
            "processes of group {group} survived `down`"
        );
    }
    assert!(!dir.join("world.json").exists());
}

#[test]
fn a_service_that_fails_to_start_fails_up_with_its_log() {
    let dir = tempfile_dir("broken");
    let up = xtask(&dir, &["up", "--only", "sim", "--sim-arg=--no-such-option"]);
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success(), "up succeeded with a broken simulator");
    assert!(stderr.contains("sim exited"), "{stderr}");
    assert!(
        stderr.contains("unrecognized arguments: --no-such-option"),
        "the log tail is shown: {stderr}"
    );
    assert!(
        !dir.join("world.json").exists(),
        "a failed up leaves nothing recorded as running"
    );
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("glue-rs-world-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
