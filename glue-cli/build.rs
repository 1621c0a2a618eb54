//! Build script of glue-cli: names the commit the binary is built from, so `glue --version` prints
//! `glue 0.1.0 (1a2b3c4d5e6f 2026-12-06)`. It sets `GLUE_VERSION` (the version after `glue `) for `args.rs`.
//!
//! Where the commit comes from, first found wins:
//! 1. `GLUE_RS_COMMIT`, for packagers: `<hash> [<YYYY-MM-DD>]`, or any other text, printed as it is;
//! 2. `glue-cli/COMMIT` once `git archive` (or a GitHub tarball) substituted its `$Format:%H %cs$`
//!    (`.gitattributes` marks it `export-subst`); in a checkout it holds the format itself and is passed over;
//! 3. `.cargo_vcs_info.json`, which `cargo package` writes into a published crate (the hash, no date);
//! 4. `git log -1 --format='%H %cs'` in a git checkout;
//! 5. otherwise `unknown commit`.
//!
//! The substituted file comes before git so that a tarball unpacked inside some other repository names its own
//! commit, not that repository's. Nothing here fails the build: without git (or outside a checkout) the next source
//! is tried. Std only, and cheap: three `git` processes, and only when a watched file changed.

#[path = "build/commit.rs"]
mod commit;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use commit::{Stamp, parse_cargo_vcs_info, parse_stamp};

/// The packagers' override of the commit.
const OVERRIDE: &str = "GLUE_RS_COMMIT";

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    // Declaring what the script reads also stops cargo from running it again on every change to the package.
    println!("cargo:rerun-if-env-changed={OVERRIDE}");
    let commit = from_env()
        .or_else(|| from_file(&dir.join("COMMIT"), parse_stamp))
        .or_else(|| from_file(&dir.join(".cargo_vcs_info.json"), parse_cargo_vcs_info))
        .or_else(|| from_git(&dir).map(|s| s.describe()))
        .unwrap_or_else(|| {
            // git may be missing from this PATH only: a build with another one tries again.
            println!("cargo:rerun-if-env-changed=PATH");
            println!(
                "cargo:warning=`glue --version` will say \"unknown commit\": no {OVERRIDE}, no substituted COMMIT \
                 file, and git could not read a commit in {}",
                dir.display()
            );
            "unknown commit".to_string()
        });
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    println!("cargo:rustc-env=GLUE_VERSION={version} ({commit})");
}

/// The override, parsed as a stamp when it is one, else as given; `None` when unset or blank.
fn from_env() -> Option<String> {
    let value = std::env::var(OVERRIDE).ok()?;
    let value = value.trim();
    if value.is_empty() || value.contains(['\n', '\r']) {
        return None;
    }
    Some(parse_stamp(value).map_or_else(|| value.to_string(), |s| s.describe()))
}

/// The stamp `parse` finds in the file at `path`, watched for changes when it exists (watching a missing file would
/// run the script, and rebuild glue, on every build).
fn from_file(path: &Path, parse: fn(&str) -> Option<Stamp>) -> Option<String> {
    if !path.is_file() {
        return None;
    }
    println!("cargo:rerun-if-changed={}", path.display());
    parse(&std::fs::read_to_string(path).ok()?).map(|s| s.describe())
}

/// The commit checked out in the repository holding `dir`, and the files that change when it moves, watched.
fn from_git(dir: &Path) -> Option<Stamp> {
    // The git directory of a worktree holds HEAD; the common directory holds the refs (the same in a plain clone).
    let dirs = git(dir, &["rev-parse", "--absolute-git-dir", "--git-common-dir"])?;
    let mut lines = dirs.lines();
    let git_dir = PathBuf::from(lines.next()?);
    let common_dir = dir.join(lines.next()?);
    let common_dir = common_dir.canonicalize().unwrap_or(common_dir);
    let head = git_dir.join("HEAD");
    watch(&head);
    watch(&git_dir.join("logs/HEAD"));
    watch(&common_dir.join("packed-refs"));
    watch(&common_dir.join("reftable"));
    // HEAD names the branch (`ref: refs/heads/main`) whose file a commit rewrites; when the branch lives only in
    // packed-refs, its directory is watched so that the loose file a commit creates is seen.
    if let Some(branch) = std::fs::read_to_string(&head)
        .ok()
        .and_then(|h| Some(h.strip_prefix("ref:")?.trim().to_string()))
    {
        let loose = common_dir.join(&branch);
        if loose.is_file() {
            watch(&loose);
        } else if let Some(parent) = loose.parent() {
            watch(parent);
        }
    }
    // A copy of the crate unpacked inside some other repository (a registry cache under a home directory kept in git)
    // is not that repository's checkout: its files are not tracked there.
    git(dir, &["ls-files", "--error-unmatch", "--", "Cargo.toml"])?;
    parse_stamp(&git(dir, &["log", "-1", "--format=%H %cs", "HEAD"])?)
}

/// Asks cargo to run the script again when `path` changes; paths that do not exist are left out.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// What `git <args>` prints in `dir`, or `None` when git is missing or fails (not a checkout, dubious ownership, …).
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}
