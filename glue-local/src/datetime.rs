//! Spark 3.5's datetime patterns (`java.time.format.DateTimeFormatter` as Spark's `DateTimeFormatterHelper` builds
//! it, `spark.sql.legacy.timeParserPolicy=EXCEPTION`, the default), for `date_format`, `to_timestamp`, `to_date`,
//! `unix_timestamp`, `to_unix_timestamp` and `from_unixtime`. The session time zone is UTC, as everywhere in the
//! embedded engine.
//!
//! Formatting: the letters `G y M L d D Q q E F a h K k H m s S z Z X x V O`, text in single quotes (`''` is a quote),
//! optional sections `[…]`, and any other character as itself. Spark refuses the week-based letters (`Y w W u e c`),
//! five-letter text forms (`MMMMM`, `EEEEE`) and unknown letters: so does this module ([`PatternError`]).
//!
//! Parsing is strict, as Spark's: numeric fields of two letters take exactly two digits, of one letter one or two
//! (adjacent numeric fields such as `yyyyMMdd` take fixed widths), text is matched case-insensitively, the whole input
//! must be read, and an impossible date is NULL. When the strict parse fails but Spark 2's lenient parser would have
//! read the input (`'2016-7-1'` with `yyyy-MM-dd`, trailing text), Spark raises its upgrade error instead of
//! returning NULL: [`Parsed::SparkError`].

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// A pattern Spark refuses (or one this module does not parse), with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("datetime pattern `{pattern}`: {reason}")]
pub struct PatternError {
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Field(char, usize),
    Literal(String),
    OptionalStart,
    OptionalEnd,
}

/// A compiled Java datetime pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    pattern: String,
    items: Vec<Item>,
}

/// The outcome of parsing a string with a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The instant, in UTC.
    Value(NaiveDateTime),
    /// The string does not match: NULL with ANSI mode off.
    Null,
    /// Spark fails the query (its parser upgrade check): the message.
    SparkError(String),
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn is_numeric(letter: char) -> bool {
    matches!(letter, 'y' | 'd' | 'D' | 'H' | 'h' | 'K' | 'k' | 'm' | 's' | 'S' | 'F')
}

/// A field read as digits.
fn numeric_item(item: &Item) -> bool {
    match item {
        Item::Field(c, n) => is_numeric(*c) || (matches!(c, 'M' | 'L' | 'Q' | 'q') && *n <= 2),
        _ => false,
    }
}

impl JavaPattern {
    /// Compiles a pattern as Spark 3.5 accepts it.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let err = |reason: String| PatternError {
            pattern: pattern.to_string(),
            reason,
        };
        let mut items = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut depth = 0usize;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // Quoted text; '' is one quote.
                let mut text = String::new();
                let mut j = i + 1;
                if j < chars.len() && chars[j] == '\'' {
                    items.push(Item::Literal("'".into()));
                    i = j + 1;
                    continue;
                }
                loop {
                    match chars.get(j) {
                        None => return Err(err("text in quotes is not closed".into())),
                        Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                            text.push('\'');
                            j += 2;
                        }
                        Some('\'') => break,
                        Some(&ch) => {
                            text.push(ch);
                            j += 1;
                        }
                    }
                }
                items.push(Item::Literal(text));
                i = j + 1;
                continue;
            }
            if c == '[' {
                depth += 1;
                items.push(Item::OptionalStart);
                i += 1;
                continue;
            }
            if c == ']' {
                if depth == 0 {
                    return Err(err("`]` without `[`".into()));
                }
                depth -= 1;
                items.push(Item::OptionalEnd);
                i += 1;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                match items.last_mut() {
                    Some(Item::Literal(t)) => t.push(c),
                    _ => items.push(Item::Literal(c.to_string())),
                }
                i += 1;
                continue;
            }
            let mut n = 1;
            while i + n < chars.len() && chars[i + n] == c {
                n += 1;
            }
            match c {
                'Y' | 'w' | 'W' | 'u' | 'e' | 'c' => {
                    return Err(err(format!("Spark 3 refuses the week-based pattern letter `{c}`")));
                }
                'M' | 'L' | 'E' | 'Q' | 'q' if n >= 5 => {
                    return Err(err(format!("Spark 3 refuses `{}`", c.to_string().repeat(n))));
                }
                'V' if n != 2 => return Err(err("pattern letter count must be 2: V".into())),
                'd' | 'H' | 'h' | 'K' | 'k' | 'm' | 's' | 'a' | 'F' if n > 2 && c != 'a' || (c == 'a' && n > 1) => {
                    return Err(err(format!("too many pattern letters: {c}")));
                }
                'D' if n > 3 => return Err(err("too many pattern letters: D".into())),
                'G' | 'y' | 'M' | 'L' | 'd' | 'D' | 'Q' | 'q' | 'E' | 'F' | 'a' | 'h' | 'K' | 'k' | 'H' | 'm' | 's'
                | 'S' | 'z' | 'Z' | 'X' | 'x' | 'V' | 'O' => {}
                other => return Err(err(format!("unknown pattern letter `{other}`"))),
            }
            if matches!(c, 'z') && n > 4 || matches!(c, 'Z' | 'X' | 'x') && n > 5 || c == 'O' && n != 1 && n != 4 {
                return Err(err(format!("too many pattern letters: {c}")));
            }
            items.push(Item::Field(c, n));
            i += n;
        }
        if depth != 0 {
            return Err(err("`[` without `]`".into()));
        }
        Ok(Self {
            pattern: pattern.to_string(),
            items,
        })
    }

    /// The text of an instant (UTC).
    pub fn format(&self, t: NaiveDateTime) -> String {
        let mut out = String::new();
        let pad = |v: i64, width: usize| {
            if v < 0 {
                format!("-{:0width$}", -v, width = width)
            } else {
                format!("{v:0width$}")
            }
        };
        for item in &self.items {
            match item {
                Item::Literal(s) => out.push_str(s),
                Item::OptionalStart | Item::OptionalEnd => {}
                Item::Field(c, n) => {
                    let n = *n;
                    let text = match c {
                        'G' => match (n, t.year() > 0) {
                            (4, true) => "Anno Domini".into(),
                            (4, false) => "Before Christ".into(),
                            (5, true) => "A".into(),
                            (5, false) => "B".into(),
                            (_, true) => "AD".into(),
                            (_, false) => "BC".into(),
                        },
                        'y' => {
                            let y = if t.year() > 0 { t.year() } else { 1 - t.year() } as i64;
                            if n == 2 { pad(y % 100, 2) } else { pad(y, n) }
                        }
                        'M' | 'L' => match n {
                            1 | 2 => pad(t.month() as i64, n),
                            3 => MONTHS[t.month0() as usize][..3].to_string(),
                            _ => MONTHS[t.month0() as usize].to_string(),
                        },
                        'd' => pad(t.day() as i64, n),
                        'D' => pad(t.ordinal() as i64, n),
                        'Q' | 'q' => {
                            let q = t.month0() / 3 + 1;
                            match n {
                                1 | 2 => pad(q as i64, n),
                                3 => format!("Q{q}"),
                                _ => format!("{q}{} quarter", ["st", "nd", "rd", "th"][q as usize - 1]),
                            }
                        }
                        'E' => {
                            let d = DAYS[t.weekday().num_days_from_monday() as usize];
                            if n == 4 { d.to_string() } else { d[..3].to_string() }
                        }
                        'F' => pad(((t.day() - 1) % 7 + 1) as i64, n),
                        'a' => (if t.hour() < 12 { "AM" } else { "PM" }).into(),
                        'h' => pad(((t.hour() + 11) % 12 + 1) as i64, n),
                        'K' => pad((t.hour() % 12) as i64, n),
                        'k' => pad(if t.hour() == 0 { 24 } else { t.hour() as i64 }, n),
                        'H' => pad(t.hour() as i64, n),
                        'm' => pad(t.minute() as i64, n),
                        's' => pad(t.second() as i64, n),
                        'S' => {
                            let nanos = format!("{:09}", t.nanosecond() % 1_000_000_000);
                            if n <= 9 {
                                nanos[..n].to_string()
                            } else {
                                format!("{nanos:0<n$}")
                            }
                        }
                        'z' => (if n == 4 { "Coordinated Universal Time" } else { "UTC" }).into(),
                        'Z' => match n {
                            4 => "GMT".into(),
                            5 => "Z".into(),
                            _ => "+0000".into(),
                        },
                        'X' => "Z".into(),
                        'x' => match n {
                            1 => "+00".into(),
                            2 | 4 => "+0000".into(),
                            _ => "+00:00".into(),
                        },
                        'V' => "UTC".into(),
                        _ => "GMT".into(), // 'O'
                    };
                    out.push_str(&text);
                }
            }
        }
        out
    }

    /// Parses a string (see the module docs).
    pub fn parse(&self, s: &str) -> Parsed {
        match self.parse_with(s, false) {
            Some(t) => Parsed::Value(t),
            None => {
                if self.legacy_parsable() && self.parse_with(s, true).is_some() {
                    Parsed::SparkError(format!(
                        "You may get a different result due to the upgrading to Spark >= 3.0: Fail to parse '{s}' \
                         in the new parser (pattern `{}`); Spark fails the query here",
                        self.pattern
                    ))
                } else {
                    Parsed::Null
                }
            }
        }
    }

    /// Whether Spark 2's `SimpleDateFormat` reads this pattern at all (no optional sections, no `x`, `V`, `O`, `Q`):
    /// when it does not, a string the new parser refuses is simply NULL.
    fn legacy_parsable(&self) -> bool {
        self.items.iter().all(|i| match i {
            Item::OptionalStart | Item::OptionalEnd => false,
            Item::Field(c, _) => !matches!(c, 'x' | 'V' | 'O' | 'Q' | 'q'),
            Item::Literal(_) => true,
        })
    }

    /// The letters the parser reads (the others can only format).
    pub fn check_parsable(&self) -> Result<(), PatternError> {
        for item in &self.items {
            if let Item::Field(c, _) = item
                && matches!(c, 'Q' | 'q' | 'E' | 'F' | 'z' | 'V' | 'O' | 'G')
            {
                return Err(PatternError {
                    pattern: self.pattern.clone(),
                    reason: format!("the pattern letter `{c}` in parsing"),
                });
            }
        }
        Ok(())
    }

    /// One parse: strict (Spark 3), or lenient (Spark 2's `SimpleDateFormat`: any number of digits, leading spaces
    /// before numbers, text after the end).
    fn parse_with(&self, s: &str, lenient: bool) -> Option<NaiveDateTime> {
        let b = s.as_bytes();
        let mut pos = 0usize;
        let mut f = Fields::default();
        let mut optional_failed_depth: Option<usize> = None;
        let mut depth = 0usize;
        let mut saved: Vec<(usize, Fields)> = Vec::new();
        for (idx, item) in self.items.iter().enumerate() {
            match item {
                Item::OptionalStart => {
                    depth += 1;
                    saved.push((pos, f.clone()));
                    continue;
                }
                Item::OptionalEnd => {
                    saved.pop();
                    if optional_failed_depth == Some(depth) {
                        optional_failed_depth = None;
                    }
                    depth -= 1;
                    continue;
                }
                _ => {}
            }
            if optional_failed_depth.is_some() {
                continue;
            }
            let ok = self.parse_item(idx, b, &mut pos, &mut f, lenient);
            if !ok {
                if depth > 0 {
                    // An optional section that does not match is skipped whole.
                    let (p, fs) = saved.last().cloned()?;
                    pos = p;
                    f = fs;
                    optional_failed_depth = Some(depth);
                } else {
                    return None;
                }
            }
        }
        if pos != b.len() && !lenient {
            return None;
        }
        f.resolve()
    }

    fn parse_item(&self, idx: usize, b: &[u8], pos: &mut usize, f: &mut Fields, lenient: bool) -> bool {
        match &self.items[idx] {
            Item::Literal(text) => {
                let t = text.as_bytes();
                if b.len() >= *pos + t.len() && b[*pos..*pos + t.len()].eq_ignore_ascii_case(t) {
                    *pos += t.len();
                    true
                } else {
                    false
                }
            }
            Item::Field(c, n) => {
                let (c, n) = (*c, *n);
                // Adjacent numeric fields (`yyyyMMdd`): each one after the first reads exactly its own width, the first
                // what the others leave of the run of digits.
                let prev_numeric = idx > 0 && self.items.get(idx - 1).is_some_and(numeric_item);
                let reserved: usize = self.items[idx + 1..]
                    .iter()
                    .take_while(|i| numeric_item(i))
                    .map(|i| match i {
                        Item::Field(_, m) => (*m).max(1),
                        _ => 0,
                    })
                    .sum();
                match c {
                    'M' | 'L' if n >= 3 => {
                        let names: Vec<String> = MONTHS
                            .iter()
                            .map(|m| if n == 3 { m[..3].to_string() } else { m.to_string() })
                            .collect();
                        match match_name(b, pos, &names) {
                            Some(i) => {
                                f.month = Some(i as u32 + 1);
                                true
                            }
                            None => false,
                        }
                    }
                    'a' => match match_name(b, pos, &["AM".to_string(), "PM".to_string()]) {
                        Some(i) => {
                            f.pm = Some(i == 1);
                            true
                        }
                        None => false,
                    },
                    'Z' | 'X' | 'x' => match parse_offset(b, pos, c, n) {
                        Some(o) => {
                            f.offset = Some(o);
                            true
                        }
                        None => false,
                    },
                    'S' => {
                        if lenient {
                            // SimpleDateFormat reads `S…` as milliseconds, at most 999 when it is not lenient.
                            return digits(b, pos, 1, if prev_numeric { n } else { 10 }, true)
                                .is_some_and(|v| v <= 999);
                        }
                        let (min, max) = (1, n.max(1));
                        let start = *pos;
                        match digits(b, pos, min, max, false) {
                            Some(_) => {
                                let text = std::str::from_utf8(&b[start..*pos]).unwrap_or("0");
                                let nanos: u32 = format!("{text:0<9}")[..9].parse().unwrap_or(0);
                                f.nanos = Some(nanos);
                                true
                            }
                            None => false,
                        }
                    }
                    _ => {
                        // Spark 2's parser (FastDateFormat): a field that abuts another numeric field reads up to
                        // its own width from the left (`yyyy` four digits); other numbers any number of digits,
                        // after spaces.
                        let abutting = reserved > 0 || prev_numeric;
                        let (min, max) = if lenient {
                            if abutting {
                                (1, n.max(if c == 'y' { 4 } else { 1 }))
                            } else {
                                (1, 10)
                            }
                        } else if prev_numeric {
                            (n, n)
                        } else {
                            let (min, max) = match (c, n) {
                                ('y', 2) => (2, 2),
                                ('y', _) => (n, 10),
                                ('D', 1) => (1, 3),
                                ('D', 2) => (2, 3),
                                ('D', _) => (3, 3),
                                (_, 1) => (1, 2),
                                _ => (2, 2),
                            };
                            if reserved > 0 {
                                let run = b[*pos..].iter().take_while(|c| c.is_ascii_digit()).count();
                                let take = run.saturating_sub(reserved);
                                if take < min || take > max {
                                    return false;
                                }
                                (take, take)
                            } else {
                                (min, max)
                            }
                        };
                        let start = *pos;
                        let Some(v) = digits(b, pos, min, max, lenient && !abutting) else {
                            return false;
                        };
                        let read = b[start..*pos].iter().filter(|c| c.is_ascii_digit()).count();
                        match c {
                            // Two digits for `yy` are 20xx; Spark 2 takes another number of digits literally.
                            'y' if n == 2 && (!lenient || read == 2) => f.year = Some(2000 + v as i32),
                            'y' if v == 0 => return false,
                            'y' => f.year = Some(v as i32),
                            'M' | 'L' => f.month = Some(v as u32),
                            'd' => f.day = Some(v as u32),
                            'D' => f.day_of_year = Some(v as u32),
                            'H' => f.hour = Some(v as u32),
                            'k' => f.hour = Some(if v == 24 { 0 } else { v as u32 }),
                            'h' => f.hour12 = Some(if v == 12 { 0 } else { v as u32 }),
                            'K' => f.hour12 = Some(v as u32),
                            'm' => f.minute = Some(v as u32),
                            's' => f.second = Some(v as u32),
                            _ => return false,
                        }
                        if matches!(c, 'h' | 'k')
                            && !(1..=match c {
                                'h' => 12,
                                _ => 24,
                            })
                                .contains(&v)
                            || c == 'K' && v > 11
                        {
                            return false;
                        }
                        true
                    }
                }
            }
            Item::OptionalStart | Item::OptionalEnd => true,
        }
    }
}

fn match_name(b: &[u8], pos: &mut usize, names: &[String]) -> Option<usize> {
    // The longest name that matches (case-insensitive).
    let mut best: Option<(usize, usize)> = None;
    for (i, n) in names.iter().enumerate() {
        let t = n.as_bytes();
        if b.len() >= *pos + t.len()
            && b[*pos..*pos + t.len()].eq_ignore_ascii_case(t)
            && best.is_none_or(|(_, l)| t.len() > l)
        {
            best = Some((i, t.len()));
        }
    }
    let (i, l) = best?;
    *pos += l;
    Some(i)
}

fn digits(b: &[u8], pos: &mut usize, min: usize, max: usize, lenient: bool) -> Option<u64> {
    let mut p = *pos;
    if lenient {
        while p < b.len() && b[p] == b' ' {
            p += 1;
        }
    }
    let start = p;
    while p < b.len() && p - start < max && b[p].is_ascii_digit() {
        p += 1;
    }
    if p - start < min {
        return None;
    }
    let v = std::str::from_utf8(&b[start..p]).ok()?.parse().ok()?;
    *pos = p;
    Some(v)
}

/// An offset in seconds east of UTC, in the form the letter and count ask for: `Z` (1–3) `+HHMM`, `ZZZZZ` `+HH:MM`
/// or `Z`; `X` `+HH[MM]`, `XX` `+HHMM`, `XXX` `+HH:MM` (each or `Z`); `x`, `xx`, `xxx` the same without `Z`.
fn parse_offset(b: &[u8], pos: &mut usize, letter: char, count: usize) -> Option<i32> {
    let zulu = match letter {
        'Z' => count >= 4,
        'X' => true,
        _ => false,
    };
    if zulu && b.get(*pos).is_some_and(|c| *c == b'Z' || *c == b'z') {
        *pos += 1;
        return Some(0);
    }
    let sign = match b.get(*pos)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut p = *pos + 1;
    let hours = digits(b, &mut p, 2, 2, false)? as i32;
    // (colon, minutes required)
    let (colon, minutes_required) = match (letter, count) {
        ('Z', 1..=3) => (false, true),
        ('Z', _) => (true, true),
        (_, 1) => (false, false),
        (_, 2) | (_, 4) => (false, true),
        _ => (true, true),
    };
    let mut minutes = 0;
    let mut q = p;
    let colon_ok = !colon
        || (b.get(q) == Some(&b':') && {
            q += 1;
            true
        });
    match (colon_ok, digits(b, &mut q, 2, 2, false)) {
        (true, Some(m)) => {
            minutes = m as i32;
            p = q;
        }
        _ if minutes_required => return None,
        _ => {}
    }
    *pos = p;
    Some(sign * (hours * 3600 + minutes * 60))
}

#[derive(Debug, Clone, Default)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    nanos: Option<u32>,
    offset: Option<i32>,
}

impl Fields {
    fn resolve(&self) -> Option<NaiveDateTime> {
        let year = self.year.unwrap_or(1970);
        let date = match (self.day_of_year, self.month, self.day) {
            (Some(doy), None, None) => NaiveDate::from_yo_opt(year, doy)?,
            (Some(doy), m, d) => {
                let date = NaiveDate::from_yo_opt(year, doy)?;
                if m.is_some_and(|m| m != date.month()) || d.is_some_and(|d| d != date.day()) {
                    return None;
                }
                date
            }
            (None, m, d) => NaiveDate::from_ymd_opt(year, m.unwrap_or(1), d.unwrap_or(1))?,
        };
        let hour = match (self.hour, self.hour12, self.pm) {
            (Some(h), None, None) => h,
            (Some(h), None, Some(pm)) => {
                if (h >= 12) != pm {
                    return None;
                }
                h
            }
            (None, Some(h), pm) => h + if pm == Some(true) { 12 } else { 0 },
            (None, None, _) => 0,
            (Some(h), Some(h12), pm) => {
                if h % 12 != h12 || pm.is_some_and(|pm| (h >= 12) != pm) {
                    return None;
                }
                h
            }
        };
        let time = NaiveTime::from_hms_nano_opt(
            hour,
            self.minute.unwrap_or(0),
            self.second.unwrap_or(0),
            self.nanos.unwrap_or(0),
        )?;
        let t = NaiveDateTime::new(date, time);
        Some(t - chrono::Duration::seconds(self.offset.unwrap_or(0) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    /// Spark 3.5's answers for `date_format(timestamp'2024-03-05 07:08:09.123456', p)` (pyspark 3.5.7, UTC), read when
    /// this was written; xtask/oracle/datetime_corpus.py compares a generated corpus with Spark in CI.
    #[test]
    fn formats_as_spark() {
        let t = at("2024-03-05 07:08:09.123456");
        for (p, want) in [
            ("y", "2024"),
            ("yy", "24"),
            ("yyyyy", "02024"),
            ("M", "3"),
            ("MMM", "Mar"),
            ("MMMM", "March"),
            ("D", "65"),
            ("DDD", "065"),
            ("h", "7"),
            ("k", "7"),
            ("S", "1"),
            ("SSSSSSS", "1234560"),
            ("EEEE", "Tuesday"),
            ("zzzz", "Coordinated Universal Time"),
            ("ZZZZZ", "Z"),
            ("xxx", "+00:00"),
            ("QQQQ", "1st quarter"),
            ("GGGG", "Anno Domini"),
            ("F", "5"),
            ("yyyy [MM]", "2024 03"),
            ("dd/MM/yyyy HH:mm a", "05/03/2024 07:08 AM"),
            ("yyyy-MM-dd'T'HH:mm:ss''", "2024-03-05T07:08:09'"),
        ] {
            assert_eq!(JavaPattern::new(p).unwrap().format(t), want, "{p}");
        }
        for p in ["u", "Y", "w", "e", "MMMMM", "EEEEE", "V", "n", "b", "'open"] {
            assert!(JavaPattern::new(p).is_err(), "{p}");
        }
    }

    /// Spark 3.5's `to_timestamp(s, p)`: a value, NULL, or the upgrade error.
    #[test]
    fn parses_as_spark() {
        let p = |s: &str, p: &str| JavaPattern::new(p).unwrap().parse(s);
        assert_eq!(p("2016-07-01", "yyyy-MM-dd"), Parsed::Value(at("2016-07-01 00:00:00")));
        assert_eq!(p("2016-7-1", "yyyy-M-d"), Parsed::Value(at("2016-07-01 00:00:00")));
        assert_eq!(p("20160701", "yyyyMMdd"), Parsed::Value(at("2016-07-01 00:00:00")));
        assert_eq!(p("jul 1 2016", "MMM d yyyy"), Parsed::Value(at("2016-07-01 00:00:00")));
        assert_eq!(p("16-07-01", "yy-MM-dd"), Parsed::Value(at("2016-07-01 00:00:00")));
        assert_eq!(
            p("2016-07-01 10:11:12.5", "yyyy-MM-dd HH:mm:ss.SSS"),
            Parsed::Value(at("2016-07-01 10:11:12.5"))
        );
        assert_eq!(
            p("2016-07-01 1:2:3 PM", "yyyy-MM-dd h:m:s a"),
            Parsed::Value(at("2016-07-01 13:02:03"))
        );
        assert_eq!(p("10:11", "HH:mm"), Parsed::Value(at("1970-01-01 10:11:00")));
        assert_eq!(p("2016-07", "yyyy-MM"), Parsed::Value(at("2016-07-01 00:00:00")));
        assert_eq!(p("x", "yyyy"), Parsed::Null);
        assert_eq!(p("2016-02-30", "yyyy-MM-dd"), Parsed::Null);
        assert_eq!(p("2016-07-01", "yyyy-MM-dd HH:mm"), Parsed::Null);
        assert!(matches!(p("2016-7-1", "yyyy-MM-dd"), Parsed::SparkError(_)));
        assert!(matches!(p("2016-07-01 12", "yyyy-MM-dd"), Parsed::SparkError(_)));
        assert!(matches!(p(" 2016-07-01", "yyyy-MM-dd"), Parsed::SparkError(_)));
    }
}

/// The datetime functions with a pattern, as scalar UDFs under glue-rs names that the engine's rewriting calls
/// (`date_format` → `spark_date_format`, …): shaped as datafusion-spark's functions are, so that they could be offered
/// there.
pub mod udf {
    use std::any::Any;
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    use arrow_array::{Array, ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow_schema::{DataType, TimeUnit};
    use datafusion::common::{Result, exec_err};
    use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

    use super::{JavaPattern, Parsed};

    /// Which function.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Kind {
        /// `date_format(timestamp, pattern)`: a string.
        Format,
        /// `to_timestamp(string, pattern)`: a timestamp (NULL when the string does not match).
        ToTimestamp,
        /// `unix_timestamp(string | timestamp | date, pattern)`: seconds since the epoch.
        UnixTimestamp,
    }

    /// One of the [`Kind`]s.
    #[derive(Debug, PartialEq, Eq, Hash)]
    pub struct SparkDatetime {
        kind: Kind,
        signature: Signature,
    }

    impl SparkDatetime {
        /// The function of a kind.
        pub fn new(kind: Kind) -> Self {
            Self {
                kind,
                signature: Signature::user_defined(Volatility::Immutable),
            }
        }
    }

    fn utc_micros() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    }

    impl ScalarUDFImpl for SparkDatetime {
        fn as_any(&self) -> &dyn Any {
            self
        }

        fn name(&self) -> &str {
            match self.kind {
                Kind::Format => "spark_date_format",
                Kind::ToTimestamp => "spark_to_timestamp",
                Kind::UnixTimestamp => "spark_unix_timestamp",
            }
        }

        fn signature(&self) -> &Signature {
            &self.signature
        }

        fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
            let [value, _] = arg_types else {
                return exec_err!("{} takes a value and a pattern", self.name());
            };
            let value = match (self.kind, value) {
                (Kind::Format, _) => utc_micros(),
                (_, DataType::Timestamp(..) | DataType::Date32 | DataType::Date64) => utc_micros(),
                _ => DataType::Utf8,
            };
            Ok(vec![value, DataType::Utf8])
        }

        fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
            Ok(match self.kind {
                Kind::Format => DataType::Utf8,
                Kind::ToTimestamp => utc_micros(),
                Kind::UnixTimestamp => DataType::Int64,
            })
        }

        fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
            let [value, pattern] = args.args.as_slice() else {
                return exec_err!("{} takes a value and a pattern", self.name());
            };
            let scalar = matches!(value, ColumnarValue::Scalar(_)) && matches!(pattern, ColumnarValue::Scalar(_));
            let rows = args.number_rows.max(1);
            let values = value.to_array(rows)?;
            let patterns = pattern.to_array(rows)?;
            let patterns = patterns.as_string::<i32>();
            let mut cache: HashMap<String, std::result::Result<JavaPattern, String>> = HashMap::new();
            let mut compiled = |p: &str| -> std::result::Result<JavaPattern, String> {
                cache
                    .entry(p.to_string())
                    .or_insert_with(|| JavaPattern::new(p).map_err(|e| e.to_string()))
                    .clone()
            };
            let n = values.len();
            let out: ArrayRef = match (self.kind, values.data_type()) {
                (Kind::Format, _) => {
                    let ts = values.as_primitive::<TimestampMicrosecondType>();
                    let mut out = Vec::with_capacity(n);
                    for i in 0..n {
                        if ts.is_null(i) || patterns.is_null(i) {
                            out.push(None);
                            continue;
                        }
                        let p = compiled(patterns.value(i)).map_err(datafusion::error::DataFusionError::Execution)?;
                        let t = chrono::DateTime::from_timestamp_micros(ts.value(i)).map(|t| t.naive_utc());
                        out.push(t.map(|t| p.format(t)));
                    }
                    Arc::new(StringArray::from(out))
                }
                (Kind::ToTimestamp, DataType::Timestamp(..)) => values,
                (Kind::UnixTimestamp, DataType::Timestamp(..)) => {
                    let ts = values.as_primitive::<TimestampMicrosecondType>();
                    Arc::new(
                        ts.iter()
                            .map(|v| v.map(|v| v.div_euclid(1_000_000)))
                            .collect::<Int64Array>(),
                    )
                }
                (kind, _) => {
                    let strings = values.as_string::<i32>();
                    let mut micros = Vec::with_capacity(n);
                    for i in 0..n {
                        if strings.is_null(i) || patterns.is_null(i) {
                            micros.push(None);
                            continue;
                        }
                        let p = compiled(patterns.value(i)).map_err(datafusion::error::DataFusionError::Execution)?;
                        if let Err(e) = p.check_parsable() {
                            return exec_err!("unsupported on the embedded engine: {e}");
                        }
                        match p.parse(strings.value(i)) {
                            Parsed::Value(t) => micros.push(Some(t.and_utc().timestamp_micros())),
                            Parsed::Null => micros.push(None),
                            Parsed::SparkError(m) => return exec_err!("{m}"),
                        }
                    }
                    match kind {
                        Kind::UnixTimestamp => Arc::new(
                            micros
                                .into_iter()
                                .map(|v| v.map(|v: i64| v.div_euclid(1_000_000)))
                                .collect::<Int64Array>(),
                        ),
                        _ => Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("UTC")),
                    }
                }
            };
            crate::functions::common::columnar(out, scalar)
        }
    }
}
