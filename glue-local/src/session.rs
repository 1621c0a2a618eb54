//! The DataFusion session of the embedded engine: Spark functions and settings, a catalog provider over the
//! warehouse catalog (names resolved case-insensitively, as Spark does), and temporary views.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};

use parking_lot::RwLock as PlRwLock;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::view::ViewTable;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion_spark::SessionStateBuilderSpark;
use glue_materialize::FileFormat;

use crate::catalog::{Catalog, EntryKind, TableEntry};
use crate::error::LocalError;
use crate::types::arrow_type;

/// The schema that holds temporary views (unqualified names resolve here first, then in the current schema).
pub const TEMP_SCHEMA: &str = "__temp_views";
/// The catalog names that resolve to the warehouse (`spark_catalog`, and the Iceberg catalog prefix).
pub const CATALOG_NAMES: [&str; 2] = ["spark_catalog", "glue_catalog"];

/// Builds the session: DataFusion with Spark's functions, NULLs first in ascending order, case-insensitive names.
/// Returns the session and its warehouse catalog provider (temporary views, current schema).
pub fn new_context(catalog: Catalog, current_schema: &str) -> (SessionContext, WarehouseCatalog) {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG_NAMES[0], TEMP_SCHEMA)
        .with_information_schema(false)
        .with_target_partitions(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    let opts = config.options_mut();
    opts.sql_parser.default_null_ordering = "nulls_min".into(); // Spark: NULLS FIRST for ASC, LAST for DESC
    opts.sql_parser.enable_ident_normalization = true; // unquoted names fold to lower case, as in the Glue catalog
    opts.sql_parser.parse_float_as_decimal = true; // Spark: `1.1` is DECIMAL(2,1), not a double
    opts.sql_parser.map_string_types_to_utf8view = false; // `string` is Utf8, what Spark writes to Parquet
    opts.execution.parquet.schema_force_view_types = false;
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_spark_features();
    // Spark's arithmetic is planned before anything else.
    builder
        .expr_planners()
        .get_or_insert_with(Vec::new)
        .insert(0, Arc::new(crate::spark::SparkArithmetic));
    // Spark's `a DIV b` and `a[i]`.
    builder
        .expr_planners()
        .get_or_insert_with(Vec::new)
        .insert(0, Arc::new(crate::constructs::SparkOperators));
    // Spark's integer literal types before type coercion; Spark's string casts after it.
    // Spark's types of interval literals first; those of the UNIONs of intervals after type coercion, last.
    let mut analyzer = datafusion::optimizer::Analyzer::new().rules;
    analyzer.insert(0, Arc::new(crate::spark::SparkIntervalLiterals));
    analyzer.insert(1, Arc::new(crate::spark::SparkIntLiterals));
    analyzer.insert(2, Arc::new(crate::spark::SparkFunctionTypes));
    let state = builder
        .with_analyzer_rules(analyzer)
        .with_analyzer_rule(Arc::new(crate::spark::SparkCasts))
        .with_analyzer_rule(Arc::new(crate::spark::SparkIntervalUnions))
        .with_physical_optimizer_rules(crate::physical::optimizer_rules())
        // Delta writes and merges plan extension nodes of their own.
        .with_query_planner(deltalake::delta_datafusion::planner::DeltaPlanner::new())
        .build();
    let ctx = SessionContext::new_with_state(state);
    // Spark's answers where DataFusion's function of the same name gives another.
    for f in [
        datafusion::logical_expr::ScalarUDF::from(crate::functions::SparkInitcap::new()),
        datafusion::logical_expr::ScalarUDF::from(crate::spark::SparkIntervalType::literal()),
        datafusion::logical_expr::ScalarUDF::from(crate::spark::SparkIntervalType::column()),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::SparkFloorCeil::floor()),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::SparkFloorCeil::ceil("ceil")),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::SparkFloorCeil::ceil("ceiling")),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::regex::SparkRegex::new(
            crate::functions::regex::RegexKind::Split,
        )),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::regex::SparkRegex::new(
            crate::functions::regex::RegexKind::Extract,
        )),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::regex::SparkRegex::new(
            crate::functions::regex::RegexKind::ExtractAll,
        )),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::hash::SparkHash::new()),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::math::SparkBround::new()),
        datafusion::logical_expr::ScalarUDF::from(crate::functions::dates::SparkMonthsBetween::new()),
        datafusion::logical_expr::ScalarUDF::from(crate::datetime::udf::SparkDatetime::new(
            crate::datetime::udf::Kind::Format,
        )),
        datafusion::logical_expr::ScalarUDF::from(crate::datetime::udf::SparkDatetime::new(
            crate::datetime::udf::Kind::ToTimestamp,
        )),
        datafusion::logical_expr::ScalarUDF::from(crate::datetime::udf::SparkDatetime::new(
            crate::datetime::udf::Kind::UnixTimestamp,
        )),
    ]
    .into_iter()
    .chain(crate::functions::udfs())
    {
        ctx.register_udf(f);
    }
    ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(
        crate::functions::percentile::SparkPercentileApprox::new(),
    ));
    let provider = WarehouseCatalog {
        catalog,
        temp: Arc::new(TempViews {
            views: RwLock::new(HashMap::new()),
        }),
        current_schema: Arc::new(RwLock::new(current_schema.to_lowercase())),
        state: ctx.state_weak_ref(),
    };
    for name in CATALOG_NAMES {
        ctx.register_catalog(name, Arc::new(provider.clone()));
    }
    (ctx, provider)
}

/// Temporary views of the session, by lower-case name.
#[derive(Debug)]
pub(crate) struct TempViews {
    views: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
}

/// The warehouse as a DataFusion catalog. Clones share the temporary views and the current schema.
#[derive(Debug, Clone)]
pub struct WarehouseCatalog {
    catalog: Catalog,
    temp: Arc<TempViews>,
    current_schema: Arc<RwLock<String>>,
    state: Weak<PlRwLock<SessionState>>,
}

impl WarehouseCatalog {
    /// Registers (or replaces) a temporary view.
    pub(crate) fn register_temp(&self, name: &str, table: Arc<dyn TableProvider>) {
        self.temp
            .views
            .write()
            .expect("temp views lock")
            .insert(name.to_lowercase(), table);
    }

    /// Drops a temporary view; true if it existed.
    pub(crate) fn drop_temp(&self, name: &str) -> bool {
        self.temp
            .views
            .write()
            .expect("temp views lock")
            .remove(&name.to_lowercase())
            .is_some()
    }

    /// A temporary view.
    pub(crate) fn temp(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        self.temp
            .views
            .read()
            .expect("temp views lock")
            .get(&name.to_lowercase())
            .cloned()
    }

    /// Sets the schema unqualified names resolve to after temporary views.
    pub(crate) fn set_current_schema(&self, schema: &str) {
        *self.current_schema.write().expect("schema lock") = schema.to_lowercase();
    }

    fn state(&self) -> Result<SessionState, DataFusionError> {
        let s = self
            .state
            .upgrade()
            .ok_or_else(|| DataFusionError::Internal("session dropped".into()))?;
        let state = s.read().clone();
        Ok(state)
    }

    /// The DataFusion table of a catalog entry.
    async fn provider(&self, name: &str, entry: &TableEntry) -> Result<Arc<dyn TableProvider>, DataFusionError> {
        match entry.kind {
            EntryKind::View => {
                let sql = entry.view_sql.as_deref().unwrap_or_default();
                let state = self.state()?;
                let plan = plan_sql(&state, sql).await?;
                Ok(Arc::new(ViewTable::new(plan, Some(sql.to_string()))))
            }
            EntryKind::Table => {
                let location = entry
                    .location
                    .as_deref()
                    .ok_or_else(|| DataFusionError::Plan(format!("table {name} has no location")))?;
                match entry.format {
                    Some(FileFormat::Delta) => crate::delta::provider(location).await.map_err(to_df),
                    Some(FileFormat::Iceberg) => {
                        use iceberg::Catalog as _;
                        let ice = crate::iceberg::WarehouseIceberg::new(self.catalog.clone())
                            .map_err(|e| DataFusionError::External(Box::new(e)))?;
                        let (schema, table) = name.split_once('.').unwrap_or(("", name));
                        let ident = iceberg::TableIdent::new(iceberg::NamespaceIdent::new(schema.into()), table.into());
                        let t = ice
                            .load_table(&ident)
                            .await
                            .map_err(|e| DataFusionError::External(Box::new(e)))?;
                        let p = iceberg_datafusion::IcebergStaticTableProvider::try_new_from_table(t)
                            .await
                            .map_err(|e| DataFusionError::External(Box::new(e)))?;
                        Ok(Arc::new(p))
                    }
                    Some(f @ (FileFormat::Parquet | FileFormat::Csv | FileFormat::Json)) => {
                        listing_table(&self.state()?, location, f, entry).await.map_err(to_df)
                    }
                    other => Err(DataFusionError::NotImplemented(format!(
                        "unsupported on the embedded engine: reading {name} ({})",
                        other.map(|f| f.to_string()).unwrap_or_else(|| "unknown format".into())
                    ))),
                }
            }
        }
    }
}

fn to_df(e: LocalError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// A listing table over a plain-format table directory, Hive partitions typed from the catalog.
pub(crate) async fn listing_table(
    state: &SessionState,
    location: &str,
    format: FileFormat,
    entry: &TableEntry,
) -> Result<Arc<dyn TableProvider>, LocalError> {
    let url =
        ListingTableUrl::parse(dir_url(location)).map_err(LocalError::df(format!("table location {location}")))?;
    let (fmt, ext): (Arc<dyn datafusion::datasource::file_format::FileFormat>, &str) = match format {
        FileFormat::Parquet => (Arc::new(ParquetFormat::default()), ".parquet"),
        FileFormat::Csv => (Arc::new(CsvFormat::default().with_has_header(false)), ".csv"),
        FileFormat::Json => (Arc::new(JsonFormat::default()), ".json"),
        other => {
            return Err(LocalError::Unsupported(format!("{other} tables as listing tables")));
        }
    };
    let partition_cols = entry
        .partition_columns
        .iter()
        .map(|p| {
            let c = entry.columns.iter().find(|c| c.name.eq_ignore_ascii_case(p));
            let t = c
                .map(|c| arrow_type(&c.data_type))
                .transpose()?
                .unwrap_or(arrow_schema::DataType::Utf8);
            Ok((p.clone(), t))
        })
        .collect::<Result<Vec<_>, LocalError>>()?;
    let options = ListingOptions::new(fmt)
        .with_file_extension(ext)
        .with_table_partition_cols(partition_cols);
    let data_fields = entry
        .columns
        .iter()
        .filter(|c| !entry.partition_columns.iter().any(|p| p.eq_ignore_ascii_case(&c.name)))
        .map(|c| Ok(arrow_schema::Field::new(&c.name, arrow_type(&c.data_type)?, true)))
        .collect::<Result<Vec<_>, LocalError>>()?;
    let schema = Arc::new(arrow_schema::Schema::new(data_fields));
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let _ = state;
    Ok(Arc::new(
        ListingTable::try_new(config).map_err(LocalError::df(format!("opening {location}")))?,
    ))
}

/// A local path as a directory URL DataFusion lists.
pub(crate) fn dir_url(location: &str) -> String {
    let l = location.trim_end_matches('/');
    format!("{l}/")
}

/// Parses Spark SQL (glue-sql's dialect and tokens: Spark's string literals, backticks) and plans it. A refusal of
/// any layer (the parser, the rewrites, DataFusion's planner and analyzer) is a `Plan` error reading
/// `unsupported on the embedded engine: <construct>` ([`crate::error::refusal`]).
pub async fn plan_sql(
    state: &SessionState,
    sql: &str,
) -> Result<datafusion::logical_expr::LogicalPlan, DataFusionError> {
    parse_and_plan(state, sql).await.map_err(refused)
}

/// A refusal as the one error text users see; any other error as it is.
fn refused(e: DataFusionError) -> DataFusionError {
    match crate::error::refusal(&e) {
        Some(construct) => DataFusionError::Plan(format!("unsupported on the embedded engine: {construct}")),
        None => e,
    }
}

async fn parse_and_plan(
    state: &SessionState,
    sql: &str,
) -> Result<datafusion::logical_expr::LogicalPlan, DataFusionError> {
    // Spark's string literals (`'%\_%'` keeps its backslash, `'a' 'b'` is `'ab'`): glue-sql's tokens, not sqlparser's
    // MySQL-style unescaping.
    let tokens = glue_sql::tokenize(sql)
        .map_err(|e| DataFusionError::SQL(Box::new(datafusion::sql::sqlparser::parser::ParserError::from(e)), None))?;
    let tokens = crate::constructs::table_samples(tokens)
        .map_err(|c| DataFusionError::Plan(format!("unsupported on the embedded engine: {c}")))?;
    let mut statements = datafusion::sql::parser::DFParserBuilder::new(tokens)
        .with_dialect(&glue_sql::SparkDialect)
        .build()?
        .parse_statements()?;
    if statements.len() != 1 {
        return Err(DataFusionError::Plan(format!(
            "expected one statement, found {}",
            statements.len()
        )));
    }
    let mut statement = statements.pop_front().expect("one statement");
    if let datafusion::sql::parser::Statement::Statement(s) = &mut statement {
        crate::constructs::rewrite_pivots(state, s)
            .await
            .map_err(|c| DataFusionError::Plan(format!("unsupported on the embedded engine: {c}")))?;
        crate::constructs::rewrite(s)
            .and_then(|()| crate::generators::rewrite(s))
            .and_then(|()| crate::spark::rewrite(s))
            .map_err(|c| DataFusionError::Plan(format!("unsupported on the embedded engine: {c}")))?;
    }
    let plan = state.statement_to_plan(statement).await?;
    crate::constructs::check_plan(&plan)?;
    // Analyzed here, so that the DataFrame's schema has the types the query produces (Spark's integer literals, type
    // coercion), the schema tables are created with.
    state
        .analyzer()
        .execute_and_check(plan, state.config_options(), |_, _| {})
}

/// Runs Spark SQL in the session. A query is planned down to its physical plan here, so that what DataFusion's
/// optimizer or physical planner refuses fails before anything runs or is written.
pub async fn sql(ctx: &SessionContext, sql: &str) -> Result<DataFrame, DataFusionError> {
    let state = ctx.state();
    let plan = plan_sql(&state, sql).await?;
    if is_query(&plan) {
        crate::constructs::check_result_types(plan.schema())
            .and_then(|()| crate::constructs::check_expressions(&plan))
            .map_err(refused)?;
        state.create_physical_plan(&plan).await.map_err(refused)?;
    }
    spark_timestamps(ctx.execute_logical_plan(plan).await?)
}

/// True for a plan that only reads (no DDL, DML or session statement, which `execute_logical_plan` performs).
fn is_query(plan: &datafusion::logical_expr::LogicalPlan) -> bool {
    use datafusion::logical_expr::LogicalPlan as P;
    !matches!(
        plan,
        P::Ddl(_) | P::Dml(_) | P::Statement(_) | P::Copy(_) | P::DescribeTable(_) | P::Explain(_) | P::Analyze(_)
    )
}

/// A query's timestamp columns as Spark's `timestamp`: microseconds in the session time zone (UTC). DataFusion's
/// timestamp literals, casts and functions give time-zone-less nanoseconds, which Spark calls `timestamp_ntz` and
/// cannot read from Parquet; the embedded engine has no `timestamp_ntz` (see glue-local's README).
fn spark_timestamps(df: DataFrame) -> Result<DataFrame, DataFusionError> {
    use datafusion::arrow::datatypes::{DataType, TimeUnit};
    let spark = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let fields = df.schema().fields();
    if !fields
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Timestamp(..)) && f.data_type() != &spark)
    {
        return Ok(df);
    }
    let exprs: Vec<datafusion::logical_expr::Expr> = df
        .schema()
        .iter()
        .map(|(q, f)| {
            let col = datafusion::logical_expr::Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()));
            if matches!(f.data_type(), DataType::Timestamp(..)) && f.data_type() != &spark {
                datafusion::logical_expr::cast(col, spark.clone()).alias_qualified(q.cloned(), f.name())
            } else {
                col
            }
        })
        .collect();
    df.select(exprs)
}

impl CatalogProvider for WarehouseCatalog {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .catalog
            .read()
            .map(|s| s.databases.keys().cloned().collect())
            .unwrap_or_default();
        names.push(TEMP_SCHEMA.into());
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        Some(Arc::new(WarehouseSchema {
            catalog: self.clone(),
            schema: name.to_lowercase(),
        }))
    }
}

/// One schema of the warehouse (or the temporary views, falling back to the current schema).
#[derive(Debug)]
struct WarehouseSchema {
    catalog: WarehouseCatalog,
    schema: String,
}

#[async_trait]
impl SchemaProvider for WarehouseSchema {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn table_names(&self) -> Vec<String> {
        if self.schema == TEMP_SCHEMA {
            return self
                .catalog
                .temp
                .views
                .read()
                .expect("temp views lock")
                .keys()
                .cloned()
                .collect();
        }
        self.catalog
            .catalog
            .read()
            .map(|s| s.tables_in(&self.schema).map(|(n, _)| n.to_string()).collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        let (schema, name) = if self.schema == TEMP_SCHEMA {
            if let Some(t) = self.catalog.temp(name) {
                return Ok(Some(t));
            }
            (
                self.catalog.current_schema.read().expect("schema lock").clone(),
                name.to_lowercase(),
            )
        } else {
            (self.schema.clone(), name.to_lowercase())
        };
        let state = self.catalog.catalog.read().map_err(to_df)?;
        match state.table(&schema, &name) {
            Some(entry) => Ok(Some(self.catalog.provider(&format!("{schema}.{name}"), entry).await?)),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        if self.schema == TEMP_SCHEMA && self.catalog.temp(name).is_some() {
            return true;
        }
        let schema = if self.schema == TEMP_SCHEMA {
            self.catalog.current_schema.read().expect("schema lock").clone()
        } else {
            self.schema.clone()
        };
        self.catalog
            .catalog
            .read()
            .is_ok_and(|s| s.table(&schema, name).is_some())
    }
}
