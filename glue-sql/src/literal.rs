/// Renders `value` as a Spark SQL string literal.
///
/// Spark concatenates adjacent literals, so the ANSI form `'it''s'` reads as `its`; Spark's own escape is the backslash.
/// Backslash and single quote are escaped; newline, carriage return and tab use their short escapes so that a
/// statement stays on the lines it was written on; other control characters use `\uXXXX` (never `\0`, which Spark
/// would read as an octal escape when digits follow). Everything else, unicode included, is written as is.
///
/// ```
/// assert_eq!(glue_sql::string_literal("it's"), r"'it\'s'");
/// assert_eq!(glue_sql::string_literal(r"C:\tmp"), r"'C:\\tmp'");
/// ```
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    let mut prev = '\0';
    for c in value.chars() {
        match c {
            '{' if prev == '$' => out.push_str("\\{"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
        prev = c;
    }
    out.push('\'');
    out
}

/// Renders a `TIMESTAMP '<value>'` literal (the value escaped like any string literal).
pub fn timestamp_literal(value: &str) -> String {
    format!("TIMESTAMP {}", string_literal(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(string_literal(""), "''");
        assert_eq!(string_literal("'''"), r"'\'\'\''");
        assert_eq!(string_literal("a\nb"), r"'a\nb'");
        assert_eq!(string_literal("\u{0}12"), r"'\u000012'");
        assert_eq!(string_literal("naïve 🦀 \"q\" `b`"), "'naïve 🦀 \"q\" `b`'");
        assert_eq!(string_literal("%_"), "'%_'");
        assert_eq!(string_literal("${a}{b}"), r"'$\{a}{b}'");
    }
}
