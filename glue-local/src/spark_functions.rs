//! The Spark functions the embedded engine does not answer as Spark 3.5 does (ANSI off), read from
//! `glue-local/spark-functions.tsv`: one line per function, `name<TAB>status<TAB>reason`.
//!
//! The list is what Spark's own function catalogue measures (`xtask/oracle/catalogue.sh`: every example of every
//! built-in function, run on Spark and on this engine, values and types compared). A function listed as
//! [`Status::NotYet`] or [`Status::JvmOnly`] is refused by name when a query is planned, before anything runs:
//! `unsupported on the embedded engine: function `name` (reason)`, never a different answer.
//! [`Status::Nondeterministic`] functions run (their answers cannot be compared, only their types).

use std::collections::HashMap;
use std::sync::LazyLock;

/// Why a Spark function is not `equal` on the embedded engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not built yet, or built with another answer: refused.
    NotYet,
    /// Needs the JVM (Java reflection, Hive UDFs, XPath, Avro, …): refused.
    JvmOnly,
    /// Runs; some argument forms are refused (named in the reason), the others give Spark's answers.
    Partial,
    /// Random, time of day or environment: runs; its result type is checked, not its value.
    Nondeterministic,
}

/// One listed function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Why it is listed.
    pub status: Status,
    /// What the user reads in the refusal.
    pub reason: String,
}

/// The committed list.
pub const LIST: &str = include_str!("../spark-functions.tsv");

static FUNCTIONS: LazyLock<HashMap<String, Listed>> = LazyLock::new(|| parse(LIST));

/// Reads the list (comment lines start with `#`). A malformed line is a build-time mistake: the unit test reads the
/// committed file, so it never reaches a user.
fn parse(text: &str) -> HashMap<String, Listed> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let (name, status, reason) = (parts.next()?, parts.next()?, parts.next()?);
            let status = match status {
                "not-yet" => Status::NotYet,
                "jvm-only" => Status::JvmOnly,
                "partial" => Status::Partial,
                "nondeterministic" => Status::Nondeterministic,
                _ => return None,
            };
            Some((
                name.to_ascii_lowercase(),
                Listed {
                    status,
                    reason: reason.to_string(),
                },
            ))
        })
        .collect()
}

/// The entry of a function (any case), if it is listed.
pub fn listed(name: &str) -> Option<&'static Listed> {
    FUNCTIONS.get(&name.to_ascii_lowercase())
}

static REFUSING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns the refusals off (or on again) for this process: only for measuring what the engine answers without them
/// (`xtask/oracle/catalogue.sh` finds the listed functions that have become equal this way). Never in a product.
pub fn set_refusing(on: bool) {
    REFUSING.store(on, std::sync::atomic::Ordering::SeqCst);
}

/// The refusal of a call to `name`, when the engine refuses it: `function `name` (reason)`.
pub fn refusal(name: &str) -> Option<String> {
    if !REFUSING.load(std::sync::atomic::Ordering::SeqCst) {
        return None;
    }
    let entry = listed(name)?;
    match entry.status {
        Status::NotYet | Status::JvmOnly => {
            Some(format!("function `{}` ({})", name.to_ascii_lowercase(), entry.reason))
        }
        Status::Partial | Status::Nondeterministic => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_committed_list_reads() {
        let lines = LIST
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(
            parse(LIST).len(),
            lines,
            "a line of spark-functions.tsv has no known status or no reason"
        );
    }

    #[test]
    fn refusals_name_the_function_and_the_reason() {
        let list = parse("xpath\tjvm-only\tXPath runs in the JVM\nrand\tnondeterministic\trandom\n");
        assert_eq!(list["xpath"].status, Status::JvmOnly);
        assert_eq!(list["rand"].status, Status::Nondeterministic);
        assert!(parse("f\tmaybe\twhy\n").is_empty());
    }
}
