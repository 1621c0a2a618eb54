//! Reading a commit stamp: the text parsing behind `glue --version`, shared by the build script (`build.rs`) and its
//! tests (`tests/version.rs`), so it is std only and has no I/O.

/// The commit a build comes from: its full hash and, where known, its committer date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The full commit hash (40 hex digits, or 64 in a SHA-256 repository), lower case.
    pub hash: String,
    /// The committer date as `YYYY-MM-DD` (git's `%cs`), when the source tells it.
    pub date: Option<String>,
}

impl Stamp {
    /// How `glue --version` names the commit: the hash's first 12 digits, then the date, e.g.
    /// `1a2b3c4d5e6f 2026-12-06`.
    pub fn describe(&self) -> String {
        let short = &self.hash[..self.hash.len().min(12)];
        match &self.date {
            Some(date) => format!("{short} {date}"),
            None => short.to_string(),
        }
    }
}

/// Parses `<hash> [<date>]`: the `glue-cli/COMMIT` file after `git archive` substituted its `$Format:%H %cs$`, the
/// output of `git log -1 --format='%H %cs'`, or a packager's `GLUE_RS_COMMIT`. The hash must be 7 to 64 hex digits
/// and the date, when present, `YYYY-MM-DD`. Anything else, the unsubstituted `$Format:…$` of a git checkout
/// included, is `None`.
pub fn parse_stamp(text: &str) -> Option<Stamp> {
    let mut words = text.split_whitespace();
    let hash = words.next()?;
    let date = words.next();
    if words.next().is_some() || !(7..=64).contains(&hash.len()) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let date = match date {
        Some(d) if is_date(d) => Some(d.to_string()),
        Some(_) => return None,
        None => None,
    };
    Some(Stamp {
        hash: hash.to_ascii_lowercase(),
        date,
    })
}

/// Whether `s` is a `YYYY-MM-DD` date.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// The commit hash in the `.cargo_vcs_info.json` that `cargo package` writes into a crate
/// (`{"git": {"sha1": "…"}, "path_in_vcs": "glue-cli"}`), so a build of the published crate names its commit too
/// (without a date: cargo does not record one).
pub fn parse_cargo_vcs_info(json: &str) -> Option<Stamp> {
    let after = &json[json.find("\"sha1\"")? + "\"sha1\"".len()..];
    let value = after.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let hash = &value[..value.find('"')?];
    parse_stamp(hash).filter(|s| s.date.is_none())
}
