//! A project's files: which belong to which resource paths, their place in the fqn, reading them, their checksums.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{ProjectError, Result};

pub(crate) static SNAPSHOT_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)\{%-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}(.*?)\{%-?\s*endsnapshot\s*-?%\}").unwrap()
});

pub(crate) fn files_under(root: &Path, dirs: &[String], exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        let base = root.join(d);
        if !base.is_dir() {
            continue;
        }
        for e in walkdir::WalkDir::new(&base).sort_by_file_name().into_iter().flatten() {
            if e.file_type().is_file()
                && e.path()
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| exts.contains(&x))
            {
                out.push(e.path().to_path_buf());
            }
        }
    }
    out
}

/// Where a resource file sits: its path under the resource folder (`staging/stg_orders.sql`) and the directories
/// of its fqn (`["staging"]`).
pub(crate) fn placement(root: &Path, dirs: &[String], f: &Path) -> (PathBuf, Vec<String>) {
    let base = dirs
        .iter()
        .map(|d| root.join(d))
        .find(|d| f.starts_with(d))
        .unwrap_or_default();
    let path = rel(&base, f);
    let folders = path
        .parent()
        .into_iter()
        .flat_map(|d| d.iter().map(|c| c.to_string_lossy().into_owned()))
        .collect();
    (path, folders)
}

pub(crate) fn rel(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

pub(crate) fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).map_err(|e| ProjectError::io(p, e))
}

pub(crate) fn checksum(text: &str) -> String {
    format!("{:x}", md5::compute(text.as_bytes()))
}

/// dbt's file checksum: sha256 of the contents without surrounding whitespace.
pub(crate) fn sha256_of(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
