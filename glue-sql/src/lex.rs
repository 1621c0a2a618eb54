//! Spark SQL's string literals, read as Spark reads them, on top of sqlparser's tokenizer.
//!
//! sqlparser's backslash-escape dialects unescape string literals MySQL's way: `\%` and `\_` lose their backslash (so
//! `LIKE '%\_%'` matches every row), `\a`, `\f` and `\x41` become control characters, `\u0041` and octal escapes are
//! not understood, and `'it''s'` is `it's`. Spark (`spark.sql.parser.escapedStringLiterals=false`, the default) reads
//! them differently, and a different literal is a silently different answer. [`tokenize`] runs sqlparser's tokenizer
//! without unescaping and reads every string literal with [`unescape`], then joins adjacent literals as Spark's grammar
//! does (`'a' 'b'` is `'ab'`, and so is `'a''b'`).
//!
//! Numbers too: Spark's typed numeric literals (`1L`, `1S`, `1Y`, `1D`, `1F`, `1.5BD`, any case) and numbers with an
//! exponent (`1e3`, a DOUBLE in Spark) become `CAST(<number> AS <type>)` tokens, so that `1S` is not `1 AS S` and the
//! number keeps Spark's type whatever the planner's own literal typing.

use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, TokenizerError};

use crate::SparkDialect;

/// Tokenizes Spark SQL for sqlparser's parser, with Spark's string literals: each single- or double-quoted literal
/// becomes one [`Token::SingleQuotedString`] holding Spark's value, adjacent literals (only white space or comments
/// between them) joined into one.
///
/// ```
/// use sqlparser::tokenizer::Token;
///
/// let tokens = glue_sql::tokenize(r"select '%\_%', 'it''s', '\u0041\101' 'b'").unwrap();
/// let strings: Vec<String> = tokens
///     .into_iter()
///     .filter_map(|t| match t.token {
///         Token::SingleQuotedString(s) => Some(s),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(strings, [r"%\_%", "its", "AAb"]);
/// ```
pub fn tokenize(sql: &str) -> Result<Vec<TokenWithSpan>, TokenizerError> {
    let raw = typed_numbers(
        Tokenizer::new(&SparkDialect, sql)
            .with_unescape(false)
            .tokenize_with_location()?,
    );
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(raw.len());
    // The literal that a following literal joins: set after a literal, kept across white space and comments.
    let mut open: Option<usize> = None;
    for t in raw {
        let value = match &t.token {
            Token::SingleQuotedString(s) => Some(unescape(s, '\'')),
            Token::DoubleQuotedString(s) => Some(unescape(s, '"')),
            _ => None,
        };
        match (value, &t.token) {
            (Some(v), _) => match open {
                Some(i) => {
                    if let Token::SingleQuotedString(prev) = &mut out[i].token {
                        prev.push_str(&v);
                    }
                    out[i].span = out[i].span.union(&t.span);
                }
                None => {
                    out.push(TokenWithSpan::new(Token::SingleQuotedString(v), t.span));
                    open = Some(out.len() - 1);
                }
            },
            (None, Token::Whitespace(_)) => out.push(t),
            (None, _) => {
                open = None;
                out.push(t);
            }
        }
    }
    Ok(out)
}

/// The Spark type of a number with a suffix (`L`, `S`, `Y`, `D`, `F`, `BD`) or an exponent, as SQL type tokens.
fn number_type(number: &str, suffix: &str) -> Option<Vec<Token>> {
    let word = |w: &str| Token::make_keyword(w);
    let simple = |w: &str| Some(vec![word(w)]);
    match suffix.to_ascii_uppercase().as_str() {
        "L" => simple("BIGINT"),
        "S" => simple("SMALLINT"),
        "Y" => simple("TINYINT"),
        "D" => simple("DOUBLE"),
        "F" => simple("FLOAT"),
        "BD" => {
            // Spark: DECIMAL(digits, digits after the point), at least (1, 0).
            let (int, frac) = number.split_once('.').unwrap_or((number, ""));
            let int = int.trim_start_matches('0');
            let scale = frac.len();
            let precision = (int.len() + scale).max(scale).max(1);
            Some(vec![
                word("DECIMAL"),
                Token::LParen,
                Token::Number(precision.to_string(), false),
                Token::Comma,
                Token::Number(scale.to_string(), false),
                Token::RParen,
            ])
        }
        "" if number.contains(['e', 'E']) => simple("DOUBLE"),
        _ => None,
    }
}

/// Where a `-` that is a unary minus (after the start, `(`, `,`, an operator or a keyword such as `SELECT` or
/// `THEN`) ends `out`, the index of that `-`.
fn unary_minus_before(out: &[TokenWithSpan]) -> Option<usize> {
    use sqlparser::keywords::Keyword;
    let significant = |upto: usize| {
        out[..upto]
            .iter()
            .rposition(|t| !matches!(t.token, Token::Whitespace(_)))
    };
    let minus = significant(out.len())?;
    if out[minus].token != Token::Minus {
        return None;
    }
    let unary = match significant(minus).map(|i| &out[i].token) {
        None => true,
        Some(Token::LParen | Token::Comma | Token::Plus | Token::Minus | Token::Mul | Token::Div | Token::Mod) => true,
        Some(Token::Eq | Token::Neq | Token::Lt | Token::Gt | Token::LtEq | Token::GtEq | Token::Spaceship) => true,
        Some(Token::Word(w)) => {
            matches!(
                w.keyword,
                Keyword::SELECT
                    | Keyword::WHERE
                    | Keyword::AND
                    | Keyword::OR
                    | Keyword::NOT
                    | Keyword::THEN
                    | Keyword::ELSE
                    | Keyword::WHEN
                    | Keyword::HAVING
                    | Keyword::IN
                    | Keyword::BETWEEN
            ) && w.quote_style.is_none()
        }
        _ => false,
    };
    unary.then_some(minus)
}

/// Typed numeric literals and exponent numbers as `CAST(n AS type)` (see the module docs).
fn typed_numbers(raw: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut out = Vec::with_capacity(raw.len());
    let mut it = raw.into_iter().peekable();
    while let Some(t) = it.next() {
        let Token::Number(n, long) = &t.token else {
            out.push(t);
            continue;
        };
        let mut span = t.span;
        let suffix = if *long {
            "L".to_string()
        } else {
            match it.peek().map(|n| &n.token) {
                Some(Token::Word(w))
                    if w.quote_style.is_none()
                        && ["L", "S", "Y", "D", "F", "BD"].contains(&w.value.to_ascii_uppercase().as_str()) =>
                {
                    let w = w.value.clone();
                    span = span.union(&it.next().expect("peeked").span);
                    w
                }
                _ => String::new(),
            }
        };
        let Some(ty) = number_type(n, &suffix) else {
            out.push(t);
            continue;
        };
        // A unary minus belongs to the literal (`-128Y` is the TINYINT -128, not the negation of 128).
        let negative = unary_minus_before(&out);
        if let Some(at) = negative {
            out.truncate(at);
        }
        let n = if negative.is_some() { format!("-{n}") } else { n.clone() };
        let mut push = |token: Token| out.push(TokenWithSpan::new(token, span));
        push(Token::make_keyword("CAST"));
        push(Token::LParen);
        push(Token::Number(n, false));
        push(Token::make_keyword("AS"));
        for token in ty {
            push(token);
        }
        push(Token::RParen);
    }
    out
}

/// Spark's value of a string literal's body as written between its quotes (`quote`, doubled quotes included), as
/// Spark 3.5's parser reads it:
/// - `\b \n \r \t` are backspace, newline, carriage return and tab, `\0` is NUL and `\Z` is `\x1a`;
/// - `\%` and `\_` keep their backslash (they are `LIKE` escapes), every other escaped character stands for itself
///   (`\a` is `a`, `\'` is `'`, `\\` is `\`);
/// - `\uXXXX` is a UTF-16 unit (two of them make a surrogate pair), `\UXXXXXXXX` a code point;
/// - a backslash, `0` or `1`, and two more octal digits is that byte (`\101` is `A`; `\200` is `200`);
/// - a doubled quote ends the literal and starts the next, which Spark joins to it: `'it''s'` is `its`.
///
/// ```
/// assert_eq!(glue_sql::unescape(r"a\'b\\c\%\q", '\''), r"a'b\c\%q");
/// assert_eq!(glue_sql::unescape(r"\uD83D\uDE00 \012\08", '\''), "😀 \n\u{0}8");
/// ```
pub fn unescape(body: &str, quote: char) -> String {
    let b: Vec<char> = body.chars().collect();
    let n = b.len();
    let mut out = String::with_capacity(body.len());
    let mut utf16: Vec<u16> = Vec::new();
    let flush = |utf16: &mut Vec<u16>, out: &mut String| {
        for c in char::decode_utf16(utf16.drain(..)) {
            out.push(c.unwrap_or('?'));
        }
    };
    let hex = |from: usize, len: usize| -> Option<u32> {
        if from + len > n {
            return None;
        }
        let digits: String = b[from..from + len].iter().collect();
        if digits.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&digits, 16).ok()
        } else {
            None
        }
    };
    let octal = |c: char| ('0'..='7').contains(&c);
    let mut i = 0;
    while i < n {
        let c = b[i];
        if c == '\\'
            && i + 1 < n
            && b[i + 1] == 'u'
            && let Some(unit) = hex(i + 2, 4)
        {
            utf16.push(unit as u16);
            i += 6;
            continue;
        }
        flush(&mut utf16, &mut out);
        if c == quote && i + 1 < n && b[i + 1] == quote {
            i += 2;
            continue;
        }
        if c != '\\' || i + 1 == n {
            out.push(c);
            i += 1;
            continue;
        }
        let next = b[i + 1];
        if next == 'U'
            && let Some(code) = hex(i + 2, 8)
        {
            match char::from_u32(code) {
                Some(ch) => out.push(ch),
                None => out.push_str("??"),
            }
            i += 10;
            continue;
        }
        if matches!(next, '0' | '1') && i + 3 < n && octal(b[i + 2]) && octal(b[i + 3]) {
            let code =
                (next as u32 - '0' as u32) * 64 + (b[i + 2] as u32 - '0' as u32) * 8 + (b[i + 3] as u32 - '0' as u32);
            out.push(char::from_u32(code).unwrap_or('?'));
            i += 4;
            continue;
        }
        match next {
            '0' => out.push('\0'),
            'b' => out.push('\u{8}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'Z' => out.push('\u{1a}'),
            '%' => out.push_str("\\%"),
            '_' => out.push_str("\\_"),
            other => out.push(other),
        }
        i += 2;
    }
    flush(&mut utf16, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values Spark 3.5 gives (ANSI off), read off `select <literal>` on pyspark 3.5.7 when this was written; CI
    /// checks the same literals against Spark again (xtask/oracle/semantics.py).
    #[test]
    fn spark_values() {
        for (body, want) in [
            (r"it''s", "its"),
            (r"\a\f\q\$\{", "afq${"),
            (r"\u0041\101\1", "AA1"),
            (r"\%\_\\", r"\%\_\"),
            (r"\0\Z\b\t", "\0\u{1a}\u{8}\t"),
            (r"\U0001F600", "😀"),
            (r"\400\377\200\177", "400377200\u{7f}"),
            (r"\x41", "x41"),
            (r"a\'b", "a'b"),
            (r"\012x\08\0123", "\nx\u{0}8\n3"),
            (r"\u12 \uzzzz", "u12 uzzzz"),
            (r"\u00e9\uD83D\uDE00", "é😀"),
            (r"\U0011FFFF", "??"),
            (r"\78\1234", "78S4"),
        ] {
            assert_eq!(unescape(body, '\''), want, "{body}");
        }
        assert_eq!(unescape(r#"a""b\""#, '"'), "ab\"");
    }

    fn strings(sql: &str) -> Vec<String> {
        tokenize(sql)
            .unwrap()
            .into_iter()
            .filter_map(|t| match t.token {
                Token::SingleQuotedString(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn typed_numbers_are_casts() {
        let text = |sql: &str| {
            tokenize(sql)
                .unwrap()
                .into_iter()
                .filter(|t| !matches!(t.token, Token::Whitespace(_)))
                .map(|t| t.token.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            text("1L, 2s 3Y"),
            "CAST ( 1 AS BIGINT ) , CAST ( 2 AS SMALLINT ) CAST ( 3 AS TINYINT )"
        );
        assert_eq!(
            text("1.5BD 1D 2f"),
            "CAST ( 1.5 AS DECIMAL ( 2 , 1 ) ) CAST ( 1 AS DOUBLE ) CAST ( 2 AS FLOAT )"
        );
        assert_eq!(
            text("0.05bd 1e3"),
            "CAST ( 0.05 AS DECIMAL ( 2 , 2 ) ) CAST ( 1e3 AS DOUBLE )"
        );
        // A suffix only right after the digits: `1 L` is the number 1 with the alias L.
        assert_eq!(text("1 L, x1d"), "1 L , x1d");
        // A unary minus is the literal's (Spark: -128Y is the TINYINT -128); a binary one is not.
        assert_eq!(
            text("select -128Y, (- 1L)"),
            "select CAST ( -128 AS TINYINT ) , ( CAST ( -1 AS BIGINT ) )"
        );
        assert_eq!(text("a -1L"), "a - CAST ( 1 AS BIGINT )");
    }

    #[test]
    fn adjacent_literals_join() {
        assert_eq!(strings(r#"select 'a' "b" 'c'"#), ["abc"]);
        assert_eq!(strings("select 'x' -- c\n 'y', 'z'"), ["xy", "z"]);
        assert_eq!(strings(r"select x like '%\_%' escape '\\'"), [r"%\_%", r"\"]);
    }

    /// glue-sql's own literals read back as the value they render (Spark reads them so too: the quoting round trip
    /// of xtask/oracle/quoting_roundtrip.py).
    #[test]
    fn rendered_literals_read_back() {
        for v in [
            "",
            "it's",
            r"C:\tmp",
            "a\nb\r\tc",
            "\u{0}12",
            "naïve 🦀 \"q\" `b`",
            "%_",
            r"\%\_",
            "${a}{b}",
        ] {
            let lit = crate::string_literal(v);
            assert_eq!(strings(&format!("select {lit}")), [v], "{lit}");
        }
    }
}
