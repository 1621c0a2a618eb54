//! The objects dbt code sees in Jinja: relations, `run_query` tables, columns, and the `modules` namespace.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};

/// A relation as dbt's `api.Relation` shows it: renders `schema.identifier` (quoted only where Spark needs it, as
/// dbt-spark renders it); ephemeral models render as their CTE name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// `database` (a Glue catalog id; usually none).
    pub database: Option<String>,
    /// Schema.
    pub schema: Option<String>,
    /// Identifier.
    pub identifier: String,
    /// `table`, `view`, `ephemeral`… when known.
    pub kind: Option<String>,
    /// For ephemeral models: the CTE name it renders as.
    pub cte: Option<String>,
    /// Overrides the rendering (test `where`: a subquery).
    pub rendered: Option<String>,
    /// The Spark catalog an Iceberg or S3 Tables relation is named in (`custom_iceberg_catalog_namespace`,
    /// `glue_catalog` by default), rendered before the schema: classic Spark reads such a table only through it.
    pub catalog: Option<String>,
}

impl Relation {
    /// A relation `schema.identifier`.
    pub fn new(schema: impl Into<String>, identifier: impl Into<String>) -> Self {
        Self {
            database: None,
            schema: Some(schema.into()),
            identifier: identifier.into(),
            kind: None,
            cte: None,
            rendered: None,
            catalog: None,
        }
    }

    /// This relation named in the Spark catalog of its table's lakehouse format, when `config` (the node's) makes
    /// it an Iceberg or S3 Tables table and `target` (as Jinja sees it) names a catalog: `glue_catalog` unless the
    /// profile sets `custom_iceberg_catalog_namespace` (empty: none). The planner names these tables in that catalog
    /// too; dbt-glue renders `ref()` and `this` without it, so on classic Spark they were read through the Hive
    /// catalog, which cannot read an Iceberg table.
    pub fn in_lakehouse_catalog(mut self, config: &serde_json::Map<String, serde_json::Value>, target: &Value) -> Self {
        self.catalog = lakehouse_catalog(config, target);
        self
    }

    /// The SQL text of the relation.
    pub fn render_sql(&self) -> String {
        if let Some(r) = &self.rendered {
            return r.clone();
        }
        if let Some(c) = &self.cte {
            return c.clone();
        }
        let mut out = String::new();
        if let Some(s) = &self.schema {
            if let Some(c) = &self.catalog {
                out.push_str(&glue_sql::quote_ident_if_needed(c));
                out.push('.');
            }
            out.push_str(&glue_sql::quote_ident_if_needed(s));
            out.push('.');
        }
        out.push_str(&glue_sql::quote_ident_if_needed(&self.identifier));
        out
    }

    /// As a Jinja value.
    pub fn into_value(self) -> Value {
        Value::from_object(self)
    }
}

/// The Spark catalog an Iceberg or S3 Tables node's relations are named in ([`Relation::in_lakehouse_catalog`]):
/// none for other formats.
pub fn lakehouse_catalog(config: &serde_json::Map<String, serde_json::Value>, target: &Value) -> Option<String> {
    let format = config.get("file_format").and_then(|v| v.as_str()).unwrap_or("");
    if format.eq_ignore_ascii_case("iceberg") || format.eq_ignore_ascii_case("s3tables") {
        iceberg_namespace(target)
    } else {
        None
    }
}

/// The target's Iceberg catalog: `custom_iceberg_catalog_namespace`, `glue_catalog` when unset, none when empty.
fn iceberg_namespace(target: &Value) -> Option<String> {
    target
        .get_attr("custom_iceberg_catalog_namespace")
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())
        .map_or_else(|| Some("glue_catalog".to_string()), |v| v.as_str().map(str::to_string))
        .filter(|n| !n.is_empty())
}

/// `sql` with the lakehouse catalog written twice before a relation (`glue_catalog.glue_catalog.s.t`) written once:
/// dbt-glue renders `ref()` and `this` without the catalog, so its users write `glue_catalog.{{ ref('t') }}`, which
/// [`Relation::in_lakehouse_catalog`] would otherwise double. `target` as Jinja sees it names the catalog. The
/// pattern is compiled once per catalog name (every node's SQL and hooks pass here).
pub fn collapse_doubled_catalog(sql: String, target: &Value) -> String {
    static DOUBLED: std::sync::Mutex<Option<(String, regex::Regex)>> = std::sync::Mutex::new(None);
    let Some(ns) = iceberg_namespace(target) else {
        return sql;
    };
    let mut cached = DOUBLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if cached.as_ref().is_none_or(|(n, _)| *n != ns) {
        let Ok(re) = regex::Regex::new(&format!(
            r"(?i)(^|[^A-Za-z0-9_`.])(`?{0}`?\.)`?{0}`?\.",
            regex::escape(&ns)
        )) else {
            return sql;
        };
        *cached = Some((ns, re));
    }
    let re = &cached.as_ref().expect("set above").1;
    if re.is_match(&sql) {
        re.replace_all(&sql, "$1$2").into_owned()
    } else {
        sql
    }
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render_sql())
    }
}

impl Object for Relation {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let kind = self.kind.as_deref().unwrap_or("");
        Some(match key.as_str()? {
            "database" => Value::from(self.database.clone()),
            "schema" => Value::from(self.schema.clone()),
            "identifier" | "name" | "table" => Value::from(self.identifier.clone()),
            "type" => Value::from(self.kind.clone()),
            "is_table" => Value::from(kind == "table"),
            "is_view" => Value::from(kind == "view"),
            "is_cte" => Value::from(self.cte.is_some()),
            "is_iceberg" => Value::from(self.catalog.is_some()),
            "is_delta" | "is_hudi" => Value::from(false),
            "path" => Value::from_serialize(serde_json::json!({
                "database": self.database, "schema": self.schema, "identifier": self.identifier})),
            _ => return None,
        })
    }

    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "render" | "quote" | "include" | "__str__" => match method {
                "render" | "__str__" => Ok(Value::from(self.render_sql())),
                _ => Ok(Value::from_object((**self).clone())),
            },
            "incorporate" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut r = (**self).clone();
                if let Ok(Some(t)) = kwargs.get::<Option<String>>("type") {
                    r.kind = Some(t);
                }
                if let Ok(path) = kwargs.get::<Value>("path")
                    && !path.is_undefined()
                {
                    if let Ok(Some(i)) = path.get_attr("identifier").map(|v| v.as_str().map(str::to_string)) {
                        r.identifier = i;
                    }
                    if let Ok(Some(s)) = path.get_attr("schema").map(|v| v.as_str().map(str::to_string)) {
                        r.schema = Some(s);
                    }
                }
                Ok(Value::from_object(r))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("relations have no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render_sql())
    }
}

/// A column of a relation (`adapter.get_columns_in_relation`).
#[derive(Debug, Clone)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Spark type text.
    pub data_type: String,
}

impl Object for Column {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "name" | "column" => Value::from(self.name.clone()),
            "quoted" => Value::from(glue_sql::quote_ident(&self.name)),
            "data_type" | "dtype" => Value::from(self.data_type.clone()),
            _ => return None,
        })
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Column {} ({})>", self.name, self.data_type)
    }
}

/// One cell as a Jinja value.
fn cell(batch: &RecordBatch, col: usize, row: usize) -> Value {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    let a = batch.column(col);
    if a.is_null(row) {
        return Value::from(());
    }
    match a.data_type() {
        DataType::Boolean => Value::from(a.as_boolean().value(row)),
        DataType::Int8 => Value::from(a.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => Value::from(a.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => Value::from(a.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => Value::from(a.as_primitive::<Int64Type>().value(row)),
        DataType::UInt64 => Value::from(a.as_primitive::<UInt64Type>().value(row)),
        DataType::UInt32 => Value::from(a.as_primitive::<UInt32Type>().value(row)),
        DataType::Float32 => Value::from(a.as_primitive::<Float32Type>().value(row) as f64),
        DataType::Float64 => Value::from(a.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::from(a.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Value::from(a.as_string::<i64>().value(row)),
        DataType::Utf8View => Value::from(a.as_string_view().value(row)),
        _ => {
            let opts = arrow_cast_display(a, row);
            Value::from(opts)
        }
    }
}

fn arrow_cast_display(a: &dyn arrow_array::Array, row: usize) -> String {
    // Spark's rendering of dates and timestamps (`2024-01-01 09:00:00`), not ISO 8601's.
    let opts = arrow_cast::display::FormatOptions::default()
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let fmt = arrow_cast::display::ArrayFormatter::try_new(a, &opts);
    match fmt {
        Ok(f) => f.value(row).to_string(),
        Err(_) => String::new(),
    }
}

/// A query result as dbt's agate table shows it: `rows`, `columns`, `column_names`, iteration over rows,
/// `table[0][1]`, `row['name']`.
#[derive(Debug)]
pub struct Table {
    names: Vec<String>,
    rows: Vec<Value>,
}

impl Table {
    /// From Arrow batches.
    pub fn from_batches(batches: &[RecordBatch]) -> Self {
        let names: Vec<String> = batches
            .first()
            .map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect())
            .unwrap_or_default();
        let names_arc: Arc<Vec<String>> = Arc::new(names.clone());
        let mut rows = Vec::new();
        for b in batches {
            for r in 0..b.num_rows() {
                let values = (0..b.num_columns()).map(|c| cell(b, c, r)).collect();
                rows.push(Value::from_object(Row {
                    names: names_arc.clone(),
                    values,
                }));
            }
        }
        Self { names, rows }
    }

    /// The rows, for `load_result(...)['data']`.
    pub fn rows(&self) -> Value {
        Value::from(self.rows.clone())
    }
}

impl Object for Table {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.rows.get(i).cloned();
        }
        Some(match key.as_str()? {
            "rows" => Value::from(self.rows.clone()),
            "column_names" => Value::from(self.names.clone()),
            "columns" => Value::from_object(Columns {
                names: self.names.clone(),
                rows: self.rows.clone(),
            }),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.rows.clone())
    }
}

/// `table.columns`: a sequence of columns, also addressable by name, each with `values()` and `name`.
#[derive(Debug)]
struct Columns {
    names: Vec<String>,
    rows: Vec<Value>,
}

impl Columns {
    fn column(&self, i: usize) -> Value {
        let values: Vec<Value> = self
            .rows
            .iter()
            .map(|r| r.get_item_by_index(i).unwrap_or_default())
            .collect();
        Value::from_object(ColumnValues {
            name: self.names[i].clone(),
            values,
        })
    }
}

impl Object for Columns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return (i < self.names.len()).then(|| self.column(i));
        }
        let name = key.as_str()?;
        self.names.iter().position(|n| n == name).map(|i| self.column(i))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values((0..self.names.len()).map(|i| self.column(i)).collect())
    }
}

#[derive(Debug)]
struct ColumnValues {
    name: String,
    values: Vec<Value>,
}

impl Object for ColumnValues {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, _: &[Value]) -> Result<Value, Error> {
        match method {
            "values" => Ok(Value::from(self.values.clone())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A result row: a sequence of values that also answers `row['column']` and `row.column`.
#[derive(Debug)]
struct Row {
    names: Arc<Vec<String>>,
    values: Vec<Value>,
}

impl Object for Row {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.values.get(i).cloned();
        }
        let name = key.as_str()?;
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.values[i].clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.values.clone())
    }
}

#[cfg(test)]
mod lakehouse_catalog_tests {
    use super::*;

    fn target(ns: Option<&str>) -> Value {
        match ns {
            Some(n) => Value::from_serialize(serde_json::json!({"custom_iceberg_catalog_namespace": n})),
            None => Value::from_serialize(serde_json::json!({})),
        }
    }

    fn config(format: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::from_iter([("file_format".to_string(), serde_json::json!(format))])
    }

    #[test]
    fn iceberg_and_s3tables_relations_render_in_the_catalog() {
        let r = |f: &str, ns| {
            Relation::new("s", "t")
                .in_lakehouse_catalog(&config(f), &target(ns))
                .render_sql()
        };
        assert_eq!(r("iceberg", None), "glue_catalog.s.t");
        assert_eq!(r("ICEBERG", Some("lake")), "lake.s.t");
        assert_eq!(r("s3tables", None), "glue_catalog.s.t");
        assert_eq!(r("iceberg", Some("")), "s.t");
        assert_eq!(r("delta", None), "s.t");
        assert_eq!(r("parquet", None), "s.t");
    }

    #[test]
    fn a_catalog_written_before_a_ref_is_kept_once() {
        let t = target(None);
        let c = |sql: &str| collapse_doubled_catalog(sql.to_string(), &t);
        assert_eq!(
            c("select * from glue_catalog.glue_catalog.s.t"),
            "select * from glue_catalog.s.t"
        );
        assert_eq!(c("from `glue_catalog`.glue_catalog.s.t"), "from `glue_catalog`.s.t");
        assert_eq!(c("from GLUE_CATALOG.glue_catalog.s.t"), "from GLUE_CATALOG.s.t");
        assert_eq!(c("glue_catalog.glue_catalog.s.t"), "glue_catalog.s.t");
        // Another identifier ending in the catalog's name, or a single catalog, is left alone.
        assert_eq!(
            c("from my_glue_catalog.glue_catalog.s.t"),
            "from my_glue_catalog.glue_catalog.s.t"
        );
        assert_eq!(c("from glue_catalog.s.t"), "from glue_catalog.s.t");
        let none = target(Some(""));
        assert_eq!(
            collapse_doubled_catalog("glue_catalog.glue_catalog.s.t".into(), &none),
            "glue_catalog.glue_catalog.s.t"
        );
    }
}
