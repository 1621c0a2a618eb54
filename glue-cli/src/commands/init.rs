//! `glue init`: a new project.

use std::path::Path;

use crate::error::{CliError, Result};
use crate::report::Reporter;

/// `glue init <name>`: a project that runs on the embedded engine.
pub fn init(name: &str, reporter: &Reporter) -> Result<i32> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(CliError::Usage(format!(
            "project name `{name}` must be letters, digits and underscores"
        )));
    }
    let root = Path::new(name);
    if root.exists() {
        return Err(CliError::Usage(format!("{name} already exists")));
    }
    let files = [
        ("dbt_project.yml", format!("name: {name}\nversion: '1.0.0'\nprofile: {name}\n\nmodels:\n  {name}:\n    +materialized: view\n")),
        ("profiles.yml", format!("{name}:\n  target: local\n  outputs:\n    local:\n      type: glue\n      engine: local\n      warehouse: warehouse\n      schema: {name}\n      threads: 4\n")),
        ("models/my_first_model.sql", "select 1 as id, 'hello' as greeting\n".to_string()),
        ("models/schema.yml", "version: 2\nmodels:\n  - name: my_first_model\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n".to_string()),
    ];
    for (f, text) in files {
        crate::artifacts::write_file(&root.join(f), &text)?;
    }
    reporter.line(
        "Init",
        &format!("Created {name}/. Run `glue build --project-dir {name}`."),
    );
    Ok(0)
}
