# The glue-rs statement runner: defined once per Glue session (one RunStatement), then every model's work is one call
# `_gluers_run("<base64 JSON>")`. The request is base64, so nothing in a model's SQL can break this Python; results come
# back after a marker line as JSON, query rows as Arrow IPC streams in base64 (types preserved).
import base64 as _gluers_b64
import json as _gluers_json

_GLUERS_MARK = "__gluers_result__:"
_gluers_stash = {}


def _gluers_put(key, chunk):
    """Holds one piece of a request too large for one statement (Glue's Code limit is 68,000 characters)."""
    _gluers_stash[key] = _gluers_stash.get(key, "") + chunk


def _gluers_spark():
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def _gluers_arrow(df):
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(df.schema)
    batches = df._collect_as_arrow() if len(df.columns) else []
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
    return _gluers_b64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")


def _gluers_view_from_arrow(spark, name, data):
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StructField, StructType

    table = pa.ipc.open_stream(_gluers_b64.b64decode(data)).read_all()
    schema = StructType([StructField(f.name, from_arrow_type(f.type), True) for f in table.schema])
    rows = [tuple(r.values()) for r in table.to_pylist()]
    spark.createDataFrame(rows, schema).createOrReplaceTempView(name)
    return table.num_rows


class _GluersConfig:
    """`dbt.config`: callable in the model (a no-op at run time: glue reads config at parse time) and `.get(key)`."""

    def __init__(self, values):
        self._values = values

    def __call__(self, *args, **kwargs):
        return None

    def get(self, key, default=None):
        return self._values.get(key, default)


class _GluersDbt:
    """The `dbt` object a Python model receives: ref, source, config, this, is_incremental."""

    def __init__(self, spark, context):
        self._spark = spark
        self._context = context
        self.config = _GluersConfig(context.get("config", {}))
        self.this = context.get("this")
        self.is_incremental = bool(context.get("is_incremental"))

    def ref(self, *names, **kwargs):
        refs = self._context.get("refs", {})
        key = ".".join(names)
        relation = refs.get(key, refs.get(names[-1]))
        if relation is None:
            raise ValueError("dbt.ref(" + ", ".join(repr(n) for n in names) + "): not a dependency of this model")
        return self._spark.table(relation)

    def source(self, source_name, table_name):
        relation = self._context.get("sources", {}).get(source_name + "." + table_name)
        if relation is None:
            raise ValueError("dbt.source(%r, %r): not a dependency of this model" % (source_name, table_name))
        return self._spark.table(relation)


def _gluers_python_model(spark, op):
    from pyspark.sql import DataFrame

    scope = {"__name__": "__gluers_model__"}
    exec(compile(op["code"], op["name"], "exec"), scope)
    entry = scope.get("model") or scope.get("main")
    if entry is None:
        raise ValueError(op["name"] + ": a Python model defines model(dbt, session)")
    df = entry(_GluersDbt(spark, op["context"]), spark)
    if not isinstance(df, DataFrame):
        try:
            df = spark.createDataFrame(df)  # a pandas DataFrame
        except Exception:
            raise TypeError(op["name"] + ": model() returned " + type(df).__name__ + ", not a DataFrame")
    df.createOrReplaceTempView(op["view"])
    return None


def _gluers_hudi_write(spark, op):
    from pyspark.sql.functions import current_timestamp

    query = op["query"]
    for index, expression in enumerate(op["substitute_variables"]):
        value = str(eval(expression, {"spark": spark}))
        query = query.replace("<SUBSTITUTE_VARIABLE_" + str(index) + ">", value)
    df = spark.sql(query)
    if "dbt_unique_key" in df.columns:
        df = df.drop("dbt_unique_key")
    df = df.withColumn("update_hudi_ts", current_timestamp())
    options = dict(op["options"])
    parallelism = spark.conf.get("spark.default.parallelism", str(spark.sparkContext.defaultParallelism))
    for key in ("hoodie.upsert.shuffle.parallelism", "hoodie.bulkinsert.shuffle.parallelism"):
        options.setdefault(key, parallelism)
    written = len(df.take(1)) > 0
    if written:
        df.write.format("org.apache.hudi").options(**options).mode(op["mode"]).save(op["path"].rstrip("/") + "/")
    if written or spark.catalog.tableExists(op["table"].replace("`", "")):
        spark.sql("REFRESH TABLE " + op["table"])
    return None


def _gluers_scoped(spark, op):
    # The statement's own settings, whatever the session holds; the session's values come back afterwards.
    conf = spark.conf
    saved = [(key, conf.get(key, None)) for key, _ in op["settings"]]
    try:
        for key, value in op["settings"]:
            conf.set(key, value)
        spark.sql(op["sql"])
    finally:
        for key, value in saved:
            if value is None:
                conf.unset(key)
            else:
                conf.set(key, value)
    return None


def _gluers_op(spark, op):
    kind = op["op"]
    if kind == "sql":
        spark.sql(op["sql"])
        return None
    if kind == "scoped":
        return _gluers_scoped(spark, op)
    if kind == "refresh":
        for name in op["relations"]:
            try:
                spark.catalog.refreshTable(name)
            except Exception:  # a view, a temporary relation, or a table not there: nothing cached to forget
                pass
        return None
    if kind == "query":
        return _gluers_arrow(spark.sql(op["sql"]))
    if kind == "schema":
        return _gluers_arrow(spark.sql(op["sql"]).limit(0))
    if kind == "columns":
        return [[f.name, f.dataType.simpleString()] for f in spark.table(op["relation"]).schema.fields]
    if kind == "query_columns":
        return [[f.name, f.dataType.simpleString()] for f in spark.sql(op["sql"]).schema.fields]
    if kind == "arrow_view":
        return _gluers_view_from_arrow(spark, op["name"], op["data"])
    if kind == "python_model":
        return _gluers_python_model(spark, op)
    if kind == "hudi_write":
        return _gluers_hudi_write(spark, op)
    raise ValueError("glue-rs runner: unknown operation " + repr(kind))


def _gluers_error(err):
    name = type(err).__name__
    error_class = None
    getter = getattr(err, "getErrorClass", None)
    if getter is not None:
        try:
            error_class = getter()
        except Exception:
            error_class = None
    java = getattr(err, "java_exception", None)
    if java is not None and not hasattr(err, "getErrorClass"):
        # A Py4J error: the Java exception and its causes, one line each, without the stack.
        lines, cause = [], java
        while cause is not None and len(lines) < 6:
            lines.append(cause.toString())
            cause = cause.getCause()
        message = "\n  caused by: ".join(lines)
    else:
        message = str(err).split("\n\nJVM stacktrace:")[0]
    return {"name": name, "error_class": error_class, "message": message}


def _gluers_run(payload=None, key=None):
    if key is not None:
        payload = _gluers_stash.pop(key)
    request = _gluers_json.loads(_gluers_b64.b64decode(payload).decode("utf-8"))
    spark = _gluers_spark()
    results = []
    answer = {"ok": True, "results": results}
    for index, op in enumerate(request["ops"]):
        try:
            results.append(_gluers_op(spark, op))
        except Exception as err:
            answer = {"ok": False, "failed_op": index, "error": _gluers_error(err), "results": results}
            break
    print(_GLUERS_MARK + _gluers_json.dumps(answer))


print(_GLUERS_MARK + _gluers_json.dumps({"ok": True, "results": ["runner 1"]}))
