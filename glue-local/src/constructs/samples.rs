//! `TABLESAMPLE` read in the statement's tokens, before sqlparser: a sample of the whole relation is dropped, any
//! other refused.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// `TABLESAMPLE (…)` in the statement's tokens (sqlparser reads it after a table name only, Spark after any relation):
/// a sample of the whole relation (`100 PERCENT`, `BUCKET 1 OUT OF 1`) is dropped; any other sample is refused, as
/// Spark draws it at random.
pub fn table_samples(tokens: Vec<TokenWithSpan>) -> Result<Vec<TokenWithSpan>, String> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut it = tokens.into_iter().peekable();
    while let Some(t) = it.next() {
        if !matches!(&t.token, Token::Word(w) if w.keyword == Keyword::TABLESAMPLE) {
            out.push(t);
            continue;
        }
        let mut inside = Vec::new();
        let mut depth = 0;
        for t in it.by_ref() {
            match t.token {
                Token::Whitespace(_) => continue,
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                _ => inside.push(t.token.to_string().to_ascii_uppercase()),
            }
            if depth == 0 {
                break;
            }
        }
        let sample = inside.join(" ");
        if !matches!(sample.as_str(), "100 PERCENT" | "BUCKET 1 OUT OF 1") {
            return Err(format!(
                "TABLESAMPLE ({sample}): Spark samples at random (only a sample of the whole relation, 100 PERCENT \
                 or BUCKET 1 OUT OF 1, is read)"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(sql: &str) -> Result<String, String> {
        let tokens = glue_sql::tokenize(sql).map_err(|e| e.to_string())?;
        table_samples(tokens).map(|t| t.iter().map(|t| t.token.to_string()).collect())
    }

    #[test]
    fn a_sample_of_the_whole_relation_is_dropped() {
        for (sql, want) in [
            ("select * from t tablesample (100 percent) x", "select * from t  x"),
            ("select * from t TABLESAMPLE(BUCKET 1 OUT OF 1)", "select * from t "),
        ] {
            assert_eq!(samples(sql).unwrap(), want);
        }
    }

    #[test]
    fn a_random_sample_is_refused() {
        let e = samples("select * from t tablesample (50 percent)").unwrap_err();
        assert!(e.starts_with("TABLESAMPLE (50 PERCENT)"), "{e}");
        assert!(samples("select * from t tablesample (3 rows)").is_err());
    }
}
