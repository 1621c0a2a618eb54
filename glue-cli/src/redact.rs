//! Masking credentials on their way to a log: AWS access key ids (the SDK's trace logs print the resolved identity and
//! the SigV4 `Credential=` scope), bearer tokens and Spark Connect `token=` parameters.

use std::io::Write;
use std::sync::LazyLock;

use regex::Regex;

static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}|(?i:bearer\s+)[A-Za-z0-9._~+/=-]{8,}|(?i:token=)[^;&\s]+")
        .expect("a valid pattern")
});

/// Masks credentials in one piece of log text.
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    SECRET.replace_all(text, |c: &regex::Captures<'_>| {
        let m = &c[0];
        let keep = m
            .find(|ch: char| ch == '=' || ch.is_whitespace())
            .map_or(4, |i| i + 1)
            .min(m.len());
        format!("{}****", &m[..keep])
    })
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
        let out = redact(line);
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
        assert_eq!(redact("select 1 as n"), "select 1 as n");
    }
}
