//! Keeping secrets out of every output: the terminal's lines (text and `--log-format json`), the `GLUE_LOG` traces,
//! error messages, command data and the files under `target/`.
//!
//! Two layers:
//! - **Known secret values** ([`add_secret`]) are replaced by dbt's `*****` wherever they appear ([`scrub`]), as dbt
//!   scrubs the values of `DBT_ENV_SECRET_*` variables in its logs and artifacts: those variables
//!   ([`add_env_secrets`]), the AWS secret key and session token of the environment, and a profile's Spark Connect
//!   token.
//! - **Credential shapes** ([`redact`], on top of [`scrub`], for log lines and messages): AWS access key ids (the
//!   SDK's trace logs print the resolved identity and the SigV4 `Credential=` scope), bearer tokens and Spark Connect
//!   `token=` parameters. Command data (the rows of `show`, compiled SQL) only goes through [`scrub`], so that a
//!   query mentioning `token=` is written as it is.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{LazyLock, RwLock};

use regex::Regex;
use serde_json::Value;

/// What stands for a secret value (dbt's mask).
pub const MASK: &str = "*****";

/// The prefix of the environment variables whose values dbt treats as secrets.
pub const SECRET_ENV_PREFIX: &str = "DBT_ENV_SECRET_";

/// Environment variables holding AWS or Spark Connect secrets (masked when they look like real ones: at least
/// [`MIN_CREDENTIAL_LEN`] characters, so that a test's `testing` does not mask every `testing`).
const CREDENTIAL_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "SPARK_CONNECT_AUTHENTICATE_TOKEN",
];

/// The shortest value of [`CREDENTIAL_ENV`] taken as a secret.
const MIN_CREDENTIAL_LEN: usize = 12;

static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}|(?i:bearer\s+)[A-Za-z0-9._~+/=-]{8,}|(?i:token=)[^;&\s'"`]+"#)
        .expect("a valid pattern")
});

/// The known secret values, and one pattern matching any of them (longest first).
#[derive(Default)]
struct Known {
    values: Vec<String>,
    pattern: Option<Regex>,
}

static KNOWN: LazyLock<RwLock<Known>> = LazyLock::new(RwLock::default);

impl Known {
    fn add(&mut self, value: &str) {
        if value.trim().is_empty() || self.values.iter().any(|v| v == value) {
            return;
        }
        self.values.push(value.to_string());
        // Longest first, so that a secret containing another is masked whole.
        self.values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        let alternatives = self
            .values
            .iter()
            .map(|v| regex::escape(v))
            .collect::<Vec<_>>()
            .join("|");
        self.pattern = Regex::new(&alternatives).ok();
    }

    fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.pattern {
            Some(p) if p.is_match(text) => Cow::Owned(p.replace_all(text, MASK).into_owned()),
            _ => Cow::Borrowed(text),
        }
    }
}

/// Adds a secret value: from now on every output shows [`MASK`] in its place. Blank values are ignored (as dbt
/// ignores them).
pub fn add_secret(value: &str) {
    KNOWN.write().unwrap_or_else(|e| e.into_inner()).add(value);
}

/// Adds the secrets of the environment: every `DBT_ENV_SECRET_*` value (dbt's rule), and the AWS secret key and
/// session token and the Spark Connect token when set to something that looks like one.
pub fn add_env_secrets() {
    for (k, v) in std::env::vars_os() {
        let (Some(k), Some(v)) = (k.to_str(), v.to_str()) else {
            continue;
        };
        if k.starts_with(SECRET_ENV_PREFIX) || (CREDENTIAL_ENV.contains(&k) && v.trim().len() >= MIN_CREDENTIAL_LEN) {
            add_secret(v);
        }
    }
}

/// Replaces every known secret value in `text` by [`MASK`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    KNOWN.read().unwrap_or_else(|e| e.into_inner()).scrub(text)
}

/// [`scrub`] of every string (and mapping key) in a JSON value, in place: the document stays valid JSON whatever
/// the secrets are.
pub fn scrub_json(v: &mut Value) {
    if KNOWN.read().unwrap_or_else(|e| e.into_inner()).pattern.is_none() {
        return;
    }
    walk_json(v, &|s| scrub(s).into_owned());
}

/// [`redact`] of every string in a JSON value, in place (log events' data).
pub fn redact_json(v: &mut Value) {
    walk_json(v, &|s| redact(s).into_owned());
}

fn walk_json(v: &mut Value, f: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => {
            let new = f(s);
            if new != *s {
                *s = new;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk_json(i, f)),
        Value::Object(m) => {
            let changed: Vec<String> = m.keys().filter(|k| f(k) != **k).cloned().collect();
            for k in changed {
                if let Some(item) = m.remove(&k) {
                    m.insert(f(&k), item);
                }
            }
            m.values_mut().for_each(|i| walk_json(i, f));
        }
        _ => {}
    }
}

/// Masks known secrets ([`scrub`]) and credential shapes in one piece of log text or one message.
pub fn redact(text: &str) -> Cow<'_, str> {
    match scrub(text) {
        Cow::Borrowed(t) => mask_shapes(t),
        Cow::Owned(t) => Cow::Owned(mask_shapes(&t).into_owned()),
    }
}

/// Masks credential shapes (AWS access key ids, bearer tokens, `token=` parameters), keeping their first characters.
fn mask_shapes(scrubbed: &str) -> Cow<'_, str> {
    if !SECRET.is_match(scrubbed) {
        return Cow::Borrowed(scrubbed);
    }
    let masked = SECRET.replace_all(scrubbed, |c: &regex::Captures<'_>| {
        let m = &c[0];
        let keep = m
            .find(|ch: char| ch == '=' || ch.is_whitespace())
            .map_or(4, |i| i + 1)
            .min(m.len());
        format!("{}****", &m[..keep])
    });
    Cow::Owned(masked.into_owned())
}

/// A writer that masks credentials in what passes through it (the tracing formatter writes one event per call).
pub struct Redacting<W: Write>(pub W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        let line = "identity=Credentials { access_key_id: \"AKIAFAKEKEY1234567\" } Credential=ASIAABCDEFGHIJKLMNOP/20261129 \
                    Authorization: Bearer abc.def-ghi_123456 sc://h:1/;token=s3cr3t-value;user_id=x";
        // The shapes alone: the global registry holds whatever other tests of this process added.
        let out = mask_shapes(line);
        for secret in [
            "AKIAFAKEKEY1234567",
            "ASIAABCDEFGHIJKLMNOP",
            "abc.def-ghi_123456",
            "s3cr3t-value",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(
            out.contains("AKIA****") && out.contains("token=****;user_id=x"),
            "{out}"
        );
        assert_eq!(mask_shapes("select 1 as n"), "select 1 as n");
        assert_eq!(
            mask_shapes("`sc://h:1/;token=abc` is bad"),
            "`sc://h:1/;token=****` is bad"
        );
    }

    #[test]
    fn known_secrets_are_replaced_everywhere_as_dbt_does() {
        // A registry of its own: the global one holds whatever other tests of this process added.
        let mut known = Known::default();
        known.add("unit-test-s3cret");
        known.add("unit-test-s3cret-longer");
        known.add("  ");
        assert_eq!(
            known.scrub("a unit-test-s3cret-longer b unit-test-s3cret c"),
            "a ***** b ***** c"
        );
        assert_eq!(known.scrub("nothing here"), "nothing here");
        // Command data keeps text that merely looks like a credential.
        assert_eq!(known.scrub("where token='abc'"), "where token='abc'");
        // The global functions: a value no other test adds.
        add_secret("unit-test-s3cret-global");
        assert_eq!(redact("pw=unit-test-s3cret-global"), "pw=*****");
        let mut v = serde_json::json!({"a": ["x unit-test-s3cret-global"], "unit-test-s3cret-global": {"b": 1}});
        scrub_json(&mut v);
        assert_eq!(v, serde_json::json!({"a": ["x *****"], "*****": {"b": 1}}));
    }
}
