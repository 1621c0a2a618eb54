//! `glue clean`: the project's `clean-targets` removed.

use glue_project::project::Project;

use crate::error::{CliError, Result};
use crate::report::Reporter;

/// `glue clean`: removes the clean-targets inside the project.
pub fn clean(proj: &Project, reporter: &Reporter) -> Result<i32> {
    let root = proj.root.canonicalize().map_err(|e| CliError::io(&proj.root, e))?;
    for t in &proj.clean_targets {
        let p = root.join(t);
        if !p.exists() {
            continue;
        }
        let c = p.canonicalize().map_err(|e| CliError::io(&p, e))?;
        if !c.starts_with(&root) || c == root {
            return Err(CliError::project(
                root.join("dbt_project.yml"),
                None,
                format!("clean-target `{t}` is outside the project; refusing to delete it"),
            ));
        }
        std::fs::remove_dir_all(&c).map_err(|e| CliError::io(&c, e))?;
        reporter.line("Clean", &format!("Cleaned {t}/"));
    }
    Ok(0)
}
