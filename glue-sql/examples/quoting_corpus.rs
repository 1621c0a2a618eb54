//! Writes the quoting corpus as JSON lines: `{"value": …, "literal": …, "ident": …}`, where `literal` is the value
//! rendered by [`glue_sql::string_literal`] and `ident` by [`glue_sql::quote_ident`] (empty for the names glue-sql
//! refuses: the empty name and names holding `${`). `xtask/oracle/quoting_roundtrip.py` evaluates them in Spark and checks the values come
//! back unchanged.
//!
//! `cargo run -p glue-sql --example quoting_corpus -- [count]` (default 1,200 values; deterministic).

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The characters that break quoting, and some that should not.
const PIECES: &[&str] = &[
    "'",
    "\"",
    "`",
    "\\",
    "'''",
    "``",
    "\\'",
    "\\\\",
    "\n",
    "\r",
    "\t",
    "\r\n",
    "\u{0}",
    "\u{1a}",
    "\u{7f}",
    "%",
    "_",
    "--",
    "/*",
    "*/",
    ";",
    "$",
    "{",
    "}",
    "\\u0041",
    "\\n",
    "\\012",
    "é",
    "ß",
    "İ",
    "中文",
    "🦀",
    "\u{200f}",
    "\u{feff}",
    " ",
    "a",
    "Z",
    "0",
    "9",
    "select",
    "DROP TABLE x",
    "${var}",
    "?",
    "\\%",
    "\\_",
    "''",
    "\"\"",
];

fn main() {
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1200);
    let mut values: Vec<String> = vec![
        String::new(),
        "it's".into(),
        "'''".into(),
        "a`b".into(),
        "\\".into(),
        "ends with backslash\\".into(),
        "line\nbreak".into(),
        "naïve café 🦀".into(),
    ];
    values.extend(PIECES.iter().map(|p| p.to_string()));
    // xorshift64*: a fixed seed gives the same corpus on every machine.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    while values.len() < count {
        let parts = 1 + (next() % 8) as usize;
        let mut s = String::new();
        for _ in 0..parts {
            s.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        values.push(s);
    }
    for v in &values {
        // Names glue-sql refuses (empty, or holding `${`) have no identifier form.
        let ident = glue_sql::Ident::new(v.as_str()).map(|i| i.quoted()).unwrap_or_default();
        println!(
            "{{\"value\": {}, \"literal\": {}, \"ident\": {}}}",
            json_string(v),
            json_string(&glue_sql::string_literal(v)),
            json_string(&ident)
        );
    }
}
