//! Parquet, CSV and JSON tables: Hive-style partition directories, and copy-on-write versions so that every write
//! (append, partition overwrite, replace) becomes visible at once through one catalog switch. Files of untouched
//! partitions are hard-linked into the new version, not copied.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use datafusion::common::config::CsvOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::DataFrame;
use glue_materialize::FileFormat;

use crate::error::LocalError;

/// Writes `df` as files of `format` under `dir` (created), Hive-partitioned by `partition_by`.
pub async fn write_files(
    df: DataFrame,
    dir: &Path,
    format: FileFormat,
    partition_by: &[String],
) -> Result<(), LocalError> {
    fs::create_dir_all(dir).map_err(|e| LocalError::io(format!("creating {}", dir.display()), e))?;
    let path = format!("{}/", dir.display());
    let opts = DataFrameWriteOptions::new().with_partition_by(partition_by.to_vec());
    let ctx = format!("writing {format} files to {}", dir.display());
    match format {
        FileFormat::Parquet => df.write_parquet(&path, opts, None).await.map(|_| ()),
        // Spark writes CSV tables without a header line.
        FileFormat::Csv => {
            let csv = CsvOptions {
                has_header: Some(false),
                ..CsvOptions::default()
            };
            df.write_csv(&path, opts, Some(csv)).await.map(|_| ())
        }
        FileFormat::Json => df.write_json(&path, opts, None).await.map(|_| ()),
        other => {
            return Err(LocalError::Unsupported(format!("writing {other} as plain files")));
        }
    }
    .map_err(LocalError::df(ctx))
}

/// Every data file under `dir`, relative to it.
pub fn data_files(dir: &Path) -> Result<Vec<PathBuf>, LocalError> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LocalError> {
    let entries = fs::read_dir(dir).map_err(|e| LocalError::io(format!("listing {}", dir.display()), e))?;
    for e in entries {
        let e = e.map_err(|e| LocalError::io(format!("listing {}", dir.display()), e))?;
        let p = e.path();
        let name = e.file_name();
        let hidden = name.to_string_lossy().starts_with(['.', '_']);
        if p.is_dir() {
            if !hidden || name.to_string_lossy().contains('=') {
                walk(root, &p, out)?;
            }
        } else if !hidden {
            out.push(p.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
    Ok(())
}

/// The partition directories (relative) that hold data files under `dir`.
pub fn partition_dirs(dir: &Path) -> Result<BTreeSet<PathBuf>, LocalError> {
    Ok(data_files(dir)?
        .into_iter()
        .map(|f| f.parent().map(Path::to_path_buf).unwrap_or_default())
        .collect())
}

/// Hard-links (or copies, across devices) the files of `from` whose partition directory `keep` accepts into `to`.
pub fn link_files(from: &Path, to: &Path, keep: impl Fn(&Path) -> bool) -> Result<(), LocalError> {
    for rel in data_files(from)? {
        let part = rel.parent().unwrap_or(Path::new(""));
        if !keep(part) {
            continue;
        }
        let src = from.join(&rel);
        let dst = to.join(&rel);
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(|e| LocalError::io(format!("creating {}", parent.display()), e))?;
        }
        if fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst).map_err(|e| LocalError::io(format!("copying {}", src.display()), e))?;
        }
    }
    Ok(())
}

/// The directory of the next version of a table whose data is at `location`: `<base>__v<n>`.
pub fn next_version_dir(location: &str, version: u64) -> String {
    let base = strip_version(location.trim_end_matches('/'));
    format!("{base}__v{version}")
}

/// A data directory of its own for one writer of version `version` of a table whose data is at (or will be at)
/// `location`: `<base>__v<n>-<nonce>`, unique across processes, so that two writers never mix their files in one
/// directory (the one that commits second fails: the catalog checks the version each read).
pub fn fresh_version_dir(location: &str, version: u64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let nonce = format!(
        "{:x}{:x}{:x}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    format!("{}-{nonce}", next_version_dir(location, version))
}

fn strip_version(l: &str) -> &str {
    if let Some(i) = l.rfind("__v") {
        let tail = &l[i + 3..];
        if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return &l[..i];
        }
    }
    l
}

/// Removes a directory tree if it exists.
pub fn remove_dir(dir: &Path) -> Result<(), LocalError> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LocalError::io(format!("removing {}", dir.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(next_version_dir("/w/s/t", 2), "/w/s/t__v2");
        assert_eq!(next_version_dir("/w/s/t__v2/", 3), "/w/s/t__v3");
        assert_eq!(next_version_dir("/w/s/t__vrun42", 3), "/w/s/t__v3");
    }
}
