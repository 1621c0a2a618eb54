//! Secrets and input (issue 19): secret values never reach the terminal, JSON logs, traces or files under
//! `target/`; `glue deps` never lets a package's URL or revision act as an option to git; a `local:` package stays
//! inside the project unless the project says otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Out, glue, project, write};

/// A `DBT_ENV_SECRET_` variable's value, AWS session credentials and a Spark Connect token.
const DBT_SECRET: &str = "dbt-env-s3cr3t-Vq7p";
const AWS_KEY_ID: &str = "ASIAZZSECRETKEYID7Q2";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY9";
const AWS_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENxyz0123456789";
const SC_TOKEN: &str = "sc-t0ken-9f8e7d6c";

const SECRETS: &[&str] = &[DBT_SECRET, AWS_KEY_ID, AWS_SECRET, AWS_TOKEN, SC_TOKEN];

/// `glue <args>` with the secrets in the environment (and `extra_env`).
fn glue_with_secrets(dir: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_glue"));
    c.args(args)
        .arg("--project-dir")
        .arg(dir)
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("AWS_SESSION_TOKEN", AWS_TOKEN)
        .env("DBT_ENV_SECRET_PASSWORD", DBT_SECRET)
        .env("SC_TOKEN", SC_TOKEN);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let out = c.output().expect("run glue");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} appears in {what}:\n{text}");
    }
}

fn assert_no_secret_in_files(root: &Path, dirs: &[&str]) {
    for d in dirs {
        for f in files_under(&root.join(d)) {
            let bytes = std::fs::read(&f).unwrap();
            assert_no_secret(&f.display().to_string(), &String::from_utf8_lossy(&bytes));
        }
    }
}

const PROFILES: &str = "proj:
  target: dev
  outputs:
    dev:
      type: glue
      engine: local
      warehouse: wh
      schema: s
    sc:
      type: glue
      method: spark_connect
      host: \"sc://spark.example.com:notaport/;token={{ env_var('SC_TOKEN') }}\"
      schema: s
    sc_token:
      type: glue
      method: spark_connect
      host: \"sc://[::1/;user_id=x\"
      token: \"{{ env_var('SC_TOKEN') }}\"
      schema: s
";

fn secret_project() -> tempfile::TempDir {
    project(&[
        ("profiles.yml", PROFILES),
        (
            "models/uses_secret.sql",
            "{{ config(materialized='table') }}\n\
             {{ log('the password is ' ~ env_var('DBT_ENV_SECRET_PASSWORD'), info=True) }}\n\
             select '{{ env_var(\"DBT_ENV_SECRET_PASSWORD\") }}' as pw, '{{ var(\"aws_secret\") }}' as k",
        ),
        (
            "models/fails_with_secret.sql",
            "{{ config(materialized='table') }}\nselect {{ env_var('DBT_ENV_SECRET_PASSWORD') }}_{{ var('aws_token') }} from nowhere_{{ var('aws_key_id') }}",
        ),
    ])
}

fn secret_vars() -> String {
    format!("{{aws_key_id: {AWS_KEY_ID}, aws_secret: '{AWS_SECRET}', aws_token: {AWS_TOKEN}, sc: {SC_TOKEN}}}")
}

/// Runs `args` with the secrets' `--vars`, and checks that no secret is in its output.
fn run_checked(dir: &Path, args: &[&str], format: Option<&str>, log: Option<&str>) -> Out {
    let vars = secret_vars();
    let mut args: Vec<&str> = args.to_vec();
    args.extend(["--vars", &vars]);
    if let Some(f) = format {
        args.extend(["--log-format", f]);
    }
    let env: Vec<(&str, &str)> = log.iter().map(|l| ("GLUE_LOG", *l)).collect();
    let out = glue_with_secrets(dir, &args, &env);
    assert!(!out.all().contains("panicked"), "{args:?}: {}", out.all());
    assert_no_secret(&format!("the output of {args:?} (GLUE_LOG={log:?})"), &out.all());
    out
}

#[test]
fn secrets_never_reach_the_terminal_logs_or_artifacts() {
    let p = secret_project();
    // Every command at every log level and format: nothing on stdout or stderr.
    for (format, log) in [
        (None, None),
        (Some("json"), None),
        (None, Some("trace")),
        (Some("json"), Some("debug")),
    ] {
        for args in [
            &["build"][..],
            &["show", "--select", "uses_secret"],
            &["show", "--select", "uses_secret", "--output", "json"],
            &["compile", "--select", "uses_secret", "--output", "json"],
            &["run", "--target", "sc"],
            &["debug", "--target", "sc_token"],
        ] {
            run_checked(p.path(), args, format, log);
        }
    }
    for args in [
        &["run"][..],
        &["ls"],
        &["run", "--target", "sc_token"],
        &["debug", "--target", "sc"],
    ] {
        run_checked(p.path(), args, None, None);
    }
    // The artifacts of the last run (`run_results.json` holds the command line, with its `--vars`).
    let out = run_checked(p.path(), &["run"], None, None);
    assert_eq!(out.code, 1, "one model fails: {}", out.all());
    let rr = std::fs::read_to_string(p.path().join("target/run_results.json")).unwrap();
    assert!(rr.contains("invocation_command") && rr.contains("--vars"), "{rr}");
    assert_no_secret("run_results.json", &rr);
    let manifest = std::fs::read_to_string(p.path().join("target/manifest.json")).unwrap();
    assert_no_secret("manifest.json", &manifest);
    // `compile` writes the compiled SQL of every node.
    let fresh = secret_project();
    let out = run_checked(fresh.path(), &["compile"], None, None);
    assert!(fresh.path().join("target/compiled").exists(), "{}", out.all());
    assert_no_secret_in_files(fresh.path(), &["target", "logs"]);
}

/// The files a run writes for each node (`target/run/`, `target/compiled/`) hide the secrets too.
#[test]
fn files_a_run_writes_under_target_hide_secrets() {
    let p = secret_project();
    run_checked(p.path(), &["build"], None, None);
    assert!(p.path().join("target/run").exists());
    assert_no_secret_in_files(p.path(), &["target", "logs"]);
}

#[test]
fn dbt_env_secrets_are_shown_as_dbt_shows_them() {
    let p = secret_project();
    let out = run_checked(p.path(), &["run", "--select", "uses_secret"], None, None);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("the password is *****"), "{}", out.all());
    let out = run_checked(
        p.path(),
        &["show", "--select", "uses_secret", "--output", "json", "-q"],
        None,
        None,
    );
    assert!(out.stdout.contains("\"pw\": \"*****\""), "{}", out.all());
}

#[test]
fn a_spark_connect_token_is_refused_over_plaintext_to_a_remote_host() {
    let p = project(&[(
        "profiles.yml",
        "proj:\n  target: sc\n  outputs:\n    sc:\n      type: glue\n      method: spark_connect\n      host: \"sc://spark.example.com:15002/;use_ssl=false\"\n      token: \"{{ env_var('SC_TOKEN') }}\"\n      schema: s\n",
    )]);
    let out = glue_with_secrets(p.path(), &["debug"], &[]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("TLS"), "{}", out.all());
    assert_no_secret("the output", &out.all());
}

fn git_repo_package(name: &str) -> tempfile::TempDir {
    let pkg = tempfile::tempdir().unwrap();
    write(
        pkg.path(),
        "dbt_project.yml",
        &format!("name: {name}\nversion: '1.0.0'\n"),
    );
    write(pkg.path(), "macros/m.sql", "{% macro forty_two() %}42{% endmacro %}");
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(pkg.path()).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["-c", "user.email=t@t", "-c", "user.name=t", "add", "."]);
    git(&["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"]);
    pkg
}

#[test]
fn deps_never_passes_a_url_or_revision_to_git_as_an_option() {
    // A URL beginning with `-` is a repository name to git (which has none such), never an option.
    let marker = tempfile::tempdir().unwrap();
    let p = project(&[(
        "packages.yml",
        &format!(
            "packages:\n  - git: \"--upload-pack=touch {}/pwned\"\n",
            marker.path().display()
        ),
    )]);
    let out = glue(p.path(), &["deps"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("repository '--upload-pack="), "{}", out.all());
    assert!(!marker.path().join("pwned").exists());
    // A revision beginning with `-` is refused before git runs.
    let pkg = git_repo_package("gitpkg");
    let p = project(&[(
        "packages.yml",
        &format!(
            "packages:\n  - git: \"file://{}\"\n    revision: \"--orphan=evil\"\n",
            pkg.path().display()
        ),
    )]);
    let out = glue(p.path(), &["deps"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("revision `--orphan=evil`"), "{}", out.all());
    // A subdirectory that leaves the clone is refused.
    let p = project(&[(
        "packages.yml",
        &format!(
            "packages:\n  - git: \"file://{}\"\n    subdirectory: \"../..\"\n",
            pkg.path().display()
        ),
    )]);
    let out = glue(p.path(), &["deps"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("subdirectory `../..`"), "{}", out.all());
}

#[test]
fn local_packages_stay_inside_the_project_unless_it_says_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside_pkg");
    write(&outside, "dbt_project.yml", "name: outside_pkg\nversion: '1.0.0'\n");
    write(&outside, "macros/m.sql", "{% macro forty_two() %}42{% endmacro %}");
    let root = tmp.path().join("proj");
    let files = [
        ("models/m.sql", "select {{ outside_pkg.forty_two() }} as answer"),
        ("packages.yml", "packages:\n  - local: ../outside_pkg\n"),
        (
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      schema: s\n",
        ),
    ];
    for (f, text) in files {
        write(&root, f, text);
    }
    write(&root, "dbt_project.yml", "name: proj\nprofile: proj\n");
    for cmd in ["compile", "deps"] {
        let out = glue(&root, &[cmd]);
        assert_eq!(out.code, 2, "{cmd}: {}", out.all());
        assert!(
            out.all().contains("outside the project") && out.all().contains("allow_local_packages_outside_project"),
            "{cmd}: {}",
            out.all()
        );
    }
    assert!(!root.join("dbt_packages/outside_pkg").exists());
    // The project's explicit opt-in (a dbt `flags:` entry, which dbt itself ignores).
    write(
        &root,
        "dbt_project.yml",
        "name: proj\nprofile: proj\nflags:\n  allow_local_packages_outside_project: true\n",
    );
    let out = glue(&root, &["compile"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let out = glue(&root, &["deps"]);
    assert_eq!(out.code, 0, "{}", out.all());
    // A package inside the project needs nothing.
    let inner = project(&[
        ("pkgs/inner/dbt_project.yml", "name: inner\nversion: '1.0.0'\n"),
        ("pkgs/inner/macros/m.sql", "{% macro one() %}1{% endmacro %}"),
        ("packages.yml", "packages:\n  - local: pkgs/inner\n"),
        ("models/m.sql", "select {{ inner.one() }} as one"),
    ]);
    let out = glue(inner.path(), &["compile"]);
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn scratch_tables_a_crashed_run_left_in_temp_schema_are_collected() {
    // With a temp_schema of its own, an incremental Iceberg model's temporary table lives there as
    // `<schema>__<alias>_tmp__run_<tag>`; one a crashed run left (here made by a model of that name) is dropped by the
    // model's next incremental run, and a table of another model's name is kept.
    let p = project(&[
        (
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      \
             schema: s\n      temp_schema: s_scratch\n",
        ),
        (
            "models/grows.sql",
            "{{ config(materialized='incremental', file_format='iceberg', incremental_strategy='merge', unique_key='id') }}\n\
             select 1 as id",
        ),
        (
            "models/leftover.sql",
            "{{ config(materialized='table', file_format='iceberg', schema='scratch', alias='s__grows_tmp__run_deadbeef') }}\n\
             select 9 as id",
        ),
        (
            "models/bystander.sql",
            "{{ config(materialized='table', file_format='iceberg', schema='scratch', alias='t__grows_tmp__run_deadbeef') }}\n\
             select 8 as id",
        ),
    ]);
    let dir = p.path();
    let out = glue(dir, &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    // The embedded engine's catalog (its file: `show tables` is Spark SQL it does not read).
    let names = |dir: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join("wh").join(glue_local::catalog::CATALOG_FILE)).unwrap();
        let catalog: serde_json::Value = serde_json::from_str(&text).unwrap();
        catalog["tables"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|k| k.strip_prefix("s_scratch.").map(str::to_string))
            .collect()
    };
    assert!(
        names(dir).contains(&"s__grows_tmp__run_deadbeef".to_string()),
        "{:?}",
        names(dir)
    );
    let out = glue(dir, &["build", "-s", "grows"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let left = names(dir);
    assert!(
        !left.contains(&"s__grows_tmp__run_deadbeef".to_string()),
        "collected: {left:?}"
    );
    assert!(
        left.contains(&"t__grows_tmp__run_deadbeef".to_string()),
        "another schema's model is kept: {left:?}"
    );
    assert!(
        left.iter().all(|n| !n.contains("__run_") || n.starts_with("t__")),
        "no scratch table of this run: {left:?}"
    );
}
