//! `glue deps`: `packages.yml` installed (git, local and hub packages).

use std::path::Path;

use glue_project::project::Project;
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::report::Reporter;

/// `glue deps`: installs `local:` and `git:` packages of packages.yml / dependencies.yml into `dbt_packages/`.
pub fn deps(proj: &Project, reporter: &Reporter) -> Result<i32> {
    let file = ["packages.yml", "dependencies.yml"]
        .iter()
        .map(|f| proj.root.join(f))
        .find(|p| p.exists());
    let Some(file) = file else {
        reporter.line("Deps", "No packages.yml; nothing to install.");
        return Ok(0);
    };
    let v = glue_project::yaml::read(&file)?;
    let install = proj.root.join(&proj.packages_install_path);
    std::fs::create_dir_all(&install).map_err(|e| CliError::io(&install, e))?;
    for (i, p) in v
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let staging = install.join(format!(".glue_deps_{i}"));
        let _ = std::fs::remove_dir_all(&staging);
        let src_dir = if let Some(local) = p.get("local").and_then(Value::as_str) {
            let src = proj.local_package_dir(&file, local)?;
            copy_dir(&src, &staging)?;
            staging.clone()
        } else if let Some(url) = p.get("git").and_then(Value::as_str) {
            let rev = p
                .get("revision")
                .map(|r| r.as_str().map(str::to_string).unwrap_or_else(|| r.to_string()));
            // A revision is never an option to git (`git checkout` has no `--` before revisions: after it they are
            // paths); git's own names never begin with `-`.
            if let Some(rev) = rev
                .as_deref()
                .filter(|r| r.trim_start().starts_with('-') || r.is_empty())
            {
                return Err(CliError::project(
                    &file,
                    None,
                    format!("package `{url}`: revision `{rev}` is not a git revision (it must not begin with `-`)"),
                ));
            }
            // `--` first: a URL beginning with `-` is a repository to git, never an option.
            git(
                &file,
                &["clone", "--quiet", "--", url, &staging.display().to_string()],
                &format!("git clone {url}"),
            )?;
            if let Some(rev) = rev {
                let dir = staging.display().to_string();
                git(
                    &file,
                    &["-C", &dir, "checkout", "--quiet", &rev, "--"],
                    &format!("git checkout {rev} of {url}"),
                )?;
            }
            match p.get("subdirectory").and_then(Value::as_str) {
                Some(sub) => {
                    let dir = staging.join(sub);
                    let inside = match (dir.canonicalize(), staging.canonicalize()) {
                        (Ok(d), Ok(s)) => d.starts_with(s),
                        _ => false,
                    };
                    if !inside {
                        return Err(CliError::project(
                            &file,
                            None,
                            format!("package `{url}`: subdirectory `{sub}` is not a directory inside the repository"),
                        ));
                    }
                    dir
                }
                None => staging.clone(),
            }
        } else {
            return Err(CliError::project(
                &file,
                None,
                format!(
                    "package entry `{p}`: glue installs `local:` and `git:` packages (hub packages need the network)"
                ),
            ));
        };
        let pkg = Project::load(&src_dir)?;
        let dest = install.join(&pkg.name);
        let _ = std::fs::remove_dir_all(&dest);
        if src_dir == staging {
            std::fs::rename(&staging, &dest).map_err(|e| CliError::io(&dest, e))?;
        } else {
            copy_dir(&src_dir, &dest)?;
            let _ = std::fs::remove_dir_all(&staging);
        }
        reporter.line(
            "DepsInstall",
            &format!("Installed package {} into {}", pkg.name, dest.display()),
        );
    }
    Ok(0)
}

pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for e in walkdir::WalkDir::new(from).into_iter() {
        let e = e.map_err(|e| CliError::Usage(e.to_string()))?;
        let rel = e.path().strip_prefix(from).unwrap_or(e.path());
        if rel.components().any(|c| c.as_os_str() == ".git") {
            continue;
        }
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).map_err(|er| CliError::io(&dest, er))?;
        } else {
            std::fs::copy(e.path(), &dest).map_err(|er| CliError::io(&dest, er))?;
        }
    }
    Ok(())
}

/// Runs git; a failure names what was being done (from `file`) and git's message.
pub(crate) fn git(file: &Path, args: &[&str], what: &str) -> Result<()> {
    let out = std::process::Command::new("git")
        .args(args)
        .output()
        .map_err(|e| CliError::io("git", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CliError::project(
            file,
            None,
            format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        ))
    }
}
