//! Statement builders for DML: `INSERT INTO` / `INSERT OVERWRITE` and `MERGE INTO`.

use crate::ident::join_idents;
use crate::{Ident, RelationName, SqlFragment, string_literal};

/// Where inserted or merged rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A relation (a temporary view or a staging table).
    Relation(RelationName),
    /// A query.
    Query(SqlFragment),
}

impl Source {
    fn as_from(&self) -> String {
        match self {
            Self::Relation(r) => r.to_string(),
            Self::Query(q) => format!("(\n{}\n)", q.trimmed()),
        }
    }
}

/// One entry of an INSERT's `PARTITION (…)` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionSpec {
    /// `col`: dynamic, the value comes from the data.
    Dynamic(Ident),
    /// `col = 'value'`: static.
    Static(Ident, String),
}

/// `INSERT INTO|OVERWRITE TABLE t [PARTITION (…)] SELECT c1, … FROM source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// `INSERT OVERWRITE` instead of `INSERT INTO`.
    pub overwrite: bool,
    /// The table written.
    pub target: RelationName,
    /// `PARTITION (…)`; empty leaves the clause out.
    pub partition: Vec<PartitionSpec>,
    /// Columns selected from the source, in the target's order; empty selects `*`.
    pub columns: Vec<Ident>,
    /// The rows.
    pub source: Source,
    /// `INSERT INTO t REPLACE WHERE <condition> SELECT …` (Spark 3.4+, Delta and Iceberg): the rows matching the
    /// condition are replaced by the new rows in one commit. Only with `INSERT INTO`.
    pub replace_where: Option<SqlFragment>,
    /// `… FROM source WHERE <condition>`: only the source rows matching it are written.
    pub filter: Option<SqlFragment>,
}

impl Insert {
    /// `INSERT INTO TABLE target SELECT * FROM source`.
    pub fn into(target: RelationName, source: Source) -> Self {
        Self {
            overwrite: false,
            target,
            partition: Vec::new(),
            columns: Vec::new(),
            source,
            replace_where: None,
            filter: None,
        }
    }

    /// `INSERT OVERWRITE TABLE target SELECT * FROM source`.
    pub fn overwrite(target: RelationName, source: Source) -> Self {
        Self {
            overwrite: true,
            ..Self::into(target, source)
        }
    }

    /// Selects these columns, in this order.
    pub fn columns(mut self, columns: Vec<Ident>) -> Self {
        self.columns = columns;
        self
    }

    /// Sets the partition clause.
    pub fn partition(mut self, partition: Vec<PartitionSpec>) -> Self {
        self.partition = partition;
        self
    }

    /// `REPLACE WHERE condition` (an `INSERT INTO` replacing the rows that match `condition`).
    pub fn replace_where(mut self, condition: SqlFragment) -> Self {
        self.replace_where = Some(condition);
        self
    }

    /// Writes only the source rows matching `condition`.
    pub fn filter(mut self, condition: SqlFragment) -> Self {
        self.filter = Some(condition);
        self
    }

    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        let mut s = match (&self.replace_where, self.overwrite) {
            // Spark's grammar: `INSERT INTO [TABLE] t REPLACE WHERE …`.
            (Some(c), false) => format!("INSERT INTO TABLE {} REPLACE WHERE {}", self.target, c.trimmed()),
            (_, overwrite) => format!(
                "INSERT {} TABLE {}",
                if overwrite { "OVERWRITE" } else { "INTO" },
                self.target
            ),
        };
        if !self.partition.is_empty() {
            let p: Vec<String> = self
                .partition
                .iter()
                .map(|p| match p {
                    PartitionSpec::Dynamic(c) => c.quoted(),
                    PartitionSpec::Static(c, v) => format!("{c} = {}", string_literal(v)),
                })
                .collect();
            s.push_str(&format!(" PARTITION ({})", p.join(", ")));
        }
        let cols = if self.columns.is_empty() {
            "*".to_string()
        } else {
            join_idents(&self.columns)
        };
        s.push_str(&format!("\nSELECT {cols} FROM {}", self.source.as_from()));
        if let Some(f) = &self.filter {
            s.push_str(&format!("\nWHERE {}", f.trimmed()));
        }
        s
    }
}

/// `DELETE FROM t WHERE condition` (Delta, Iceberg: a row-level delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// The table.
    pub target: RelationName,
    /// The rows deleted.
    pub condition: SqlFragment,
}

impl Delete {
    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        format!("DELETE FROM {} WHERE {}", self.target, self.condition.trimmed())
    }
}

/// `col >= TIMESTAMP 'start' AND col < TIMESTAMP 'end'`: the half-open time window `[start, end)` on `column` (the
/// bounds are rendered as timestamp literals, escaped).
pub fn time_window(column: &Ident, start: &str, end: &str) -> SqlFragment {
    let c = column.quoted();
    SqlFragment::new(format!(
        "{c} >= {} AND {c} < {}",
        crate::timestamp_literal(start),
        crate::timestamp_literal(end)
    ))
}

/// The alias of the merge target (dbt's name).
pub const DEST_ALIAS: &str = "DBT_INTERNAL_DEST";
/// The alias of the merge source (dbt's name).
pub const SOURCE_ALIAS: &str = "DBT_INTERNAL_SOURCE";

/// What a `WHEN MATCHED` clause does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchedAction {
    /// `UPDATE SET *`.
    UpdateAll,
    /// `UPDATE SET c = DBT_INTERNAL_SOURCE.c, …`.
    UpdateColumns(Vec<Ident>),
    /// `DELETE`.
    Delete,
}

/// What a `WHEN NOT MATCHED` clause does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotMatchedAction {
    /// `INSERT *`.
    InsertAll,
    /// `INSERT (c, …) VALUES (DBT_INTERNAL_SOURCE.c, …)`.
    InsertColumns(Vec<Ident>),
}

/// A `WHEN …` clause of a MERGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeClause {
    /// `WHEN MATCHED [AND cond] THEN …`.
    Matched(Option<SqlFragment>, MatchedAction),
    /// `WHEN NOT MATCHED [AND cond] THEN …`.
    NotMatched(Option<SqlFragment>, NotMatchedAction),
}

/// `MERGE INTO target AS DBT_INTERNAL_DEST USING source AS DBT_INTERNAL_SOURCE ON … WHEN …`.
///
/// The ON condition is the user's predicates (each parenthesized) and one equality per key column, joined with
/// AND; with neither it is `FALSE` (every source row is inserted, dbt's behaviour for a merge without unique_key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeInto {
    /// The table merged into.
    pub target: RelationName,
    /// The rows merged.
    pub source: Source,
    /// Key columns: `DBT_INTERNAL_SOURCE.k = DBT_INTERNAL_DEST.k`.
    pub keys: Vec<Ident>,
    /// Extra conditions (dbt's `incremental_predicates`), which refer to the two aliases.
    pub predicates: Vec<SqlFragment>,
    /// The WHEN clauses, in order.
    pub clauses: Vec<MergeClause>,
}

impl MergeInto {
    /// A merge with dbt's default clauses: update matched rows, insert the others.
    pub fn upsert(target: RelationName, source: Source, keys: Vec<Ident>) -> Self {
        Self {
            target,
            source,
            keys,
            predicates: Vec::new(),
            clauses: vec![
                MergeClause::Matched(None, MatchedAction::UpdateAll),
                MergeClause::NotMatched(None, NotMatchedAction::InsertAll),
            ],
        }
    }

    /// Sets the predicates.
    pub fn predicates(mut self, predicates: Vec<SqlFragment>) -> Self {
        self.predicates = predicates;
        self
    }

    /// Sets the clauses.
    pub fn clauses(mut self, clauses: Vec<MergeClause>) -> Self {
        self.clauses = clauses;
        self
    }

    /// Renders the ON condition.
    pub fn on_condition(&self) -> String {
        let mut parts: Vec<String> = self.predicates.iter().map(|p| format!("({}\n)", p.trimmed())).collect();
        for k in &self.keys {
            parts.push(format!("{SOURCE_ALIAS}.{k} = {DEST_ALIAS}.{k}"));
        }
        if parts.is_empty() {
            "FALSE".to_string()
        } else {
            parts.join("\n  AND ")
        }
    }

    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        let mut s = format!(
            "MERGE INTO {} AS {DEST_ALIAS}\nUSING {} AS {SOURCE_ALIAS}\nON {}",
            self.target,
            self.source.as_from(),
            self.on_condition()
        );
        for clause in &self.clauses {
            match clause {
                MergeClause::Matched(cond, action) => {
                    s.push_str("\nWHEN MATCHED");
                    push_cond(&mut s, cond);
                    match action {
                        MatchedAction::UpdateAll => s.push_str(" THEN UPDATE SET *"),
                        MatchedAction::UpdateColumns(cols) => {
                            let sets: Vec<String> = cols.iter().map(|c| format!("{c} = {SOURCE_ALIAS}.{c}")).collect();
                            s.push_str(&format!(" THEN UPDATE SET {}", sets.join(", ")));
                        }
                        MatchedAction::Delete => s.push_str(" THEN DELETE"),
                    }
                }
                MergeClause::NotMatched(cond, action) => {
                    s.push_str("\nWHEN NOT MATCHED");
                    push_cond(&mut s, cond);
                    match action {
                        NotMatchedAction::InsertAll => s.push_str(" THEN INSERT *"),
                        NotMatchedAction::InsertColumns(cols) => {
                            let vals: Vec<String> = cols.iter().map(|c| format!("{SOURCE_ALIAS}.{c}")).collect();
                            s.push_str(&format!(
                                " THEN INSERT ({}) VALUES ({})",
                                join_idents(cols),
                                vals.join(", ")
                            ));
                        }
                    }
                }
            }
        }
        s
    }
}

fn push_cond(s: &mut String, cond: &Option<SqlFragment>) {
    if let Some(c) = cond {
        s.push_str(&format!(" AND ({}\n)", c.trimmed()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> RelationName {
        RelationName::new("s", "t").unwrap()
    }

    #[test]
    fn window_replacement_shapes() {
        let w = time_window(
            &Ident::new("e`ts").unwrap(),
            "2024-09-17 00:00:00",
            "2024-09-18 00:00:00",
        );
        assert_eq!(
            w.as_str(),
            "`e``ts` >= TIMESTAMP '2024-09-17 00:00:00' AND `e``ts` < TIMESTAMP '2024-09-18 00:00:00'"
        );
        let src = Source::Relation(RelationName::temp_view("t_tmp").unwrap());
        let i = Insert::into(t(), src).replace_where(w.clone()).filter(w.clone());
        assert_eq!(
            i.to_sql(),
            format!(
                "INSERT INTO TABLE `s`.`t` REPLACE WHERE {w}\nSELECT * FROM `t_tmp`\nWHERE {w}",
                w = w.as_str()
            )
        );
        let d = Delete {
            target: t(),
            condition: w.clone(),
        };
        assert_eq!(d.to_sql(), format!("DELETE FROM `s`.`t` WHERE {}", w.as_str()));
    }

    #[test]
    fn insert_shapes() {
        let src = Source::Relation(RelationName::temp_view("t_tmp").unwrap());
        let i = Insert::overwrite(t(), src)
            .partition(vec![PartitionSpec::Dynamic(Ident::new("dt").unwrap())])
            .columns(vec![Ident::new("id").unwrap(), Ident::new("dt").unwrap()]);
        assert_eq!(
            i.to_sql(),
            "INSERT OVERWRITE TABLE `s`.`t` PARTITION (`dt`)\nSELECT `id`, `dt` FROM `t_tmp`"
        );
    }

    #[test]
    fn merge_without_keys_is_false() {
        let m = MergeInto::upsert(t(), Source::Relation(RelationName::temp_view("v").unwrap()), vec![]);
        assert!(m.to_sql().contains("\nON FALSE\n"));
    }

    #[test]
    fn merge_keys_and_predicates() {
        let m = MergeInto::upsert(
            t(),
            Source::Relation(RelationName::temp_view("v").unwrap()),
            vec![Ident::new("id").unwrap()],
        )
        .predicates(vec!["DBT_INTERNAL_DEST.dt > '2020' -- c".into()]);
        assert_eq!(
            m.on_condition(),
            "(DBT_INTERNAL_DEST.dt > '2020' -- c\n)\n  AND DBT_INTERNAL_SOURCE.`id` = DBT_INTERNAL_DEST.`id`"
        );
    }
}
