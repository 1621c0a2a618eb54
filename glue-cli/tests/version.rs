//! `glue --version` names the commit the binary was built from (`build.rs`), and the stamp parsing behind it: the
//! `glue-cli/COMMIT` file that `git archive` fills in for a tarball without `.git`.

#[path = "../build/commit.rs"]
mod commit;

use std::path::Path;
use std::process::{Command, Stdio};

use commit::{Stamp, parse_cargo_vcs_info, parse_stamp};

/// The unsubstituted content of `glue-cli/COMMIT` in a checkout.
const COMMIT_FORMAT: &str = "$Format:%H %cs$";

/// The glue-cli crate directory.
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What `git <args>` prints in the crate directory, or `None` when git is missing or fails.
fn git(args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .args(args)
        .current_dir(crate_dir())
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// [`git`]'s output as trimmed text.
fn git_text(args: &[&str]) -> Option<String> {
    Some(String::from_utf8(git(args)?).unwrap().trim().to_string())
}

/// The commit of the checkout, asked of git independently of `build.rs`: `git rev-parse HEAD` and the date of
/// `git log -1 --format=%cs`. `None` when git is missing or this is not a checkout.
fn checkout_commit() -> Option<Stamp> {
    let hash = git_text(&["rev-parse", "HEAD"])?;
    let date = git_text(&["log", "-1", "--format=%cs", "HEAD"])?;
    Some(Stamp { hash, date: Some(date) })
}

/// The committed `glue-cli/COMMIT`.
fn commit_file() -> String {
    std::fs::read_to_string(crate_dir().join("COMMIT")).expect("glue-cli/COMMIT")
}

#[test]
fn version_names_the_commit_of_the_checkout() {
    let out = Command::new(env!("CARGO_BIN_EXE_glue"))
        .arg("--version")
        .output()
        .expect("run glue");
    assert!(out.status.success(), "{out:?}");
    let version = String::from_utf8(out.stdout).unwrap();
    let version = version.trim();
    // The same order of sources as build.rs: the packager's override, a substituted COMMIT file, git.
    let expected = if let Some(o) = option_env!("GLUE_RS_COMMIT").map(str::trim).filter(|o| !o.is_empty()) {
        parse_stamp(o).map_or_else(|| o.to_string(), |s| s.describe())
    } else if let Some(stamp) = parse_stamp(&commit_file()) {
        stamp.describe()
    } else if let Some(stamp) = checkout_commit() {
        stamp.describe()
    } else {
        eprintln!("skipped: no git checkout and no substituted COMMIT file to compare `{version}` with");
        return;
    };
    assert_eq!(version, format!("glue {} ({expected})", env!("CARGO_PKG_VERSION")));
    if option_env!("GLUE_RS_COMMIT").is_none_or(|o| o.trim().is_empty()) {
        assert!(!version.contains("unknown commit"), "{version}");
        assert_eq!(expected.len(), "1a2b3c4d5e6f 2026-12-06".len(), "{version}");
    }
}

#[test]
fn commit_file_is_filled_in_by_git_archive() {
    let text = commit_file();
    if let Some(stamp) = parse_stamp(&text) {
        // A tarball from `git archive`: the file was substituted.
        assert!(stamp.date.is_some(), "{text}");
        return;
    }
    assert_eq!(
        text.trim_end(),
        COMMIT_FORMAT,
        "glue-cli/COMMIT holds git's format in a checkout"
    );
    let Some(head) = checkout_commit() else {
        eprintln!("skipped: no git to check the substitution with");
        return;
    };
    // .gitattributes marks the file export-subst...
    assert_eq!(
        git_text(&["check-attr", "export-subst", "--", "COMMIT"]).as_deref(),
        Some("COMMIT: export-subst: set")
    );
    // ... and the format, expanded the way `git archive` expands it, is what build.rs reads back as HEAD.
    let format = COMMIT_FORMAT
        .strip_prefix("$Format:")
        .unwrap()
        .strip_suffix('$')
        .unwrap();
    let expanded = git_text(&["log", "-1", &format!("--format={format}"), "HEAD"]).unwrap();
    assert_eq!(parse_stamp(&expanded), Some(head.clone()));
    // Once the file is committed, the real thing: the tar `git archive` writes holds the substituted line.
    if git(&["cat-file", "-e", "HEAD:glue-cli/COMMIT"]).is_some() {
        let tar = git(&["archive", "--format=tar", "HEAD", "--", "COMMIT"]).expect("git archive");
        let line = format!("{} {}\n", head.hash, head.date.as_deref().unwrap());
        assert!(
            tar.windows(line.len()).any(|w| w == line.as_bytes()),
            "no `{}` in the archive",
            line.trim()
        );
    }
}

#[test]
fn stamps_parse_and_describe() {
    let hash = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";
    let stamp = parse_stamp(&format!("{hash} 2026-12-06\n")).unwrap();
    assert_eq!(
        stamp,
        Stamp {
            hash: hash.into(),
            date: Some("2026-12-06".into())
        }
    );
    assert_eq!(stamp.describe(), "1a2b3c4d5e6f 2026-12-06");
    assert_eq!(parse_stamp(&hash.to_uppercase()).unwrap().describe(), "1a2b3c4d5e6f");
    assert_eq!(parse_stamp("abc1234").unwrap().describe(), "abc1234");
    for bad in [
        COMMIT_FORMAT,
        "",
        "  \n",
        "xyz1234567",
        "abc123",
        &format!("{hash} 2026-12-6"),
        &format!("{hash} 2026/12/06"),
        &format!("{hash} 2026-12-06 extra"),
        &"a".repeat(65),
    ] {
        assert_eq!(parse_stamp(bad), None, "{bad:?}");
    }

    let vcs = format!("{{\n  \"git\": {{\n    \"sha1\": \"{hash}\"\n  }},\n  \"path_in_vcs\": \"glue-cli\"\n}}");
    assert_eq!(parse_cargo_vcs_info(&vcs).unwrap().describe(), "1a2b3c4d5e6f");
    assert_eq!(parse_cargo_vcs_info(r#"{"git": {"sha1": "nothex"}}"#), None);
    assert_eq!(parse_cargo_vcs_info(r#"{"path_in_vcs": ""}"#), None);
}
