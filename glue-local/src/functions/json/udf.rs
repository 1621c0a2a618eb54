//! The JSON functions as one scalar UDF, [`SparkJson`], under their Spark names.

use std::any::Any;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, Field, TimeUnit};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::from_json::{build, build_struct};
use super::options::{options, scalar_string};
use super::path::get_json_object;
use super::schema::parse_schema;
use super::to_json::write_arrow;
use super::value::{Json, parse};
use crate::functions::common::{all_scalar, columnar};

/// The JSON functions of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonFn {
    /// `get_json_object(json, path)`.
    GetJsonObject,
    /// `json_array_length(json)`: the number of elements of a top-level array, NULL for anything else.
    ArrayLength,
    /// `json_object_keys(json)`: the keys of a top-level object, NULL for anything else.
    ObjectKeys,
    /// `to_json(value[, option, value, …])`: a struct, map or array as JSON text. The options (`timestampFormat`,
    /// `dateFormat`) come as literal name/value pairs (the planner rewrites Spark's `map(…)` of options).
    ToJson,
    /// `from_json(json, schema[, option, value, …])`: JSON text read into the type of the literal schema
    /// (`'a INT, b DOUBLE'`, `'STRUCT<…>'`, `'ARRAY<…>'`, `'MAP<STRING, …>'`).
    FromJson,
}

/// The functions of [`JsonFn`] under their Spark names.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkJson {
    kind: JsonFn,
    signature: Signature,
}

impl SparkJson {
    /// The function of `kind`.
    pub fn new(kind: JsonFn) -> Self {
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Every function of this module, to register in a session.
pub fn udfs() -> Vec<datafusion::logical_expr::ScalarUDF> {
    [
        JsonFn::GetJsonObject,
        JsonFn::ArrayLength,
        JsonFn::ObjectKeys,
        JsonFn::ToJson,
        JsonFn::FromJson,
    ]
    .into_iter()
    .map(|k| datafusion::logical_expr::ScalarUDF::from(SparkJson::new(k)))
    .collect()
}

impl ScalarUDFImpl for SparkJson {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        match self.kind {
            JsonFn::GetJsonObject => "get_json_object",
            JsonFn::ArrayLength => "json_array_length",
            JsonFn::ObjectKeys => "json_object_keys",
            JsonFn::ToJson => "to_json",
            JsonFn::FromJson => "from_json",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let n = arg_types.len();
        match (self.kind, n) {
            (JsonFn::GetJsonObject, 2) | (JsonFn::ArrayLength | JsonFn::ObjectKeys, 1) => Ok(vec![DataType::Utf8; n]),
            (JsonFn::ToJson, n) if n % 2 == 1 => {
                if let Some(t) = unwritable(&arg_types[0]) {
                    return plan_err!("unsupported on the embedded engine: to_json of a map with {t} keys");
                }
                let mut t = vec![arg_types[0].clone()];
                t.extend(std::iter::repeat_n(DataType::Utf8, n - 1));
                Ok(t)
            }
            (JsonFn::FromJson, n) if n >= 2 && n % 2 == 0 => Ok(vec![DataType::Utf8; n]),
            _ => plan_err!("{} does not take {n} arguments", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        match self.kind {
            JsonFn::ArrayLength => Ok(DataType::Int32),
            JsonFn::ObjectKeys => Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))),
            JsonFn::FromJson => plan_err!("from_json's type comes from its schema"),
            _ => Ok(DataType::Utf8),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<Arc<Field>> {
        let t = match self.kind {
            JsonFn::FromJson => match args.scalar_arguments.get(1) {
                Some(Some(
                    ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)),
                )) => parse_schema(s).map_err(|e| {
                    DataFusionError::Plan(format!("unsupported on the embedded engine: from_json with {e}"))
                })?,
                _ => {
                    return plan_err!(
                        "unsupported on the embedded engine: from_json with a schema that is not a string literal"
                    );
                }
            },
            _ => {
                let types: Vec<DataType> = args.arg_fields.iter().map(|f| f.data_type().clone()).collect();
                self.return_type(&types)?
            }
        };
        Ok(Arc::new(Field::new(self.name(), t, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = args.number_rows.max(1);
        let arrays = args.args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
        let out: ArrayRef = match self.kind {
            JsonFn::GetJsonObject => {
                let (json, path) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
                let values = json
                    .iter()
                    .zip(path.iter())
                    .map(|(j, p)| match (j, p) {
                        (Some(j), Some(p)) => get_json_object(j, p),
                        _ => Ok(None),
                    })
                    .collect::<Result<StringArray>>()?;
                Arc::new(values)
            }
            JsonFn::ArrayLength => {
                let mut b = Int32Builder::new();
                for j in arrays[0].as_string::<i32>().iter() {
                    match j.map(parse).transpose()?.flatten() {
                        Some(Json::Array(items)) => b.append_value(items.len() as i32),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            JsonFn::ObjectKeys => {
                let mut b = arrow_array::builder::ListBuilder::new(StringBuilder::new());
                for j in arrays[0].as_string::<i32>().iter() {
                    match j.map(parse).transpose()?.flatten() {
                        Some(Json::Object(members)) => {
                            for (k, _) in &members {
                                b.values().append_value(k);
                            }
                            b.append(true);
                        }
                        _ => b.append(false),
                    }
                }
                Arc::new(b.finish())
            }
            JsonFn::ToJson => {
                let opts = options(&arrays, 1, false)?;
                let value = &arrays[0];
                let mut b = StringBuilder::new();
                for i in 0..value.len() {
                    if value.is_null(i) {
                        b.append_null();
                    } else {
                        let mut out = String::new();
                        write_arrow(value.as_ref(), i, &opts, &mut out)?;
                        b.append_value(out);
                    }
                }
                Arc::new(b.finish())
            }
            JsonFn::FromJson => {
                let opts = options(&arrays, 2, true)?;
                let schema = parse_schema(&scalar_string(&arrays[1])?)
                    .map_err(|e| DataFusionError::Execution(format!("from_json with {e}")))?;
                let parsed = arrays[0]
                    .as_string::<i32>()
                    .iter()
                    // Empty text is no record: a NULL row, as Spark's parser gives none.
                    .map(|j| {
                        j.map(parse)
                            .transpose()
                            .map(|v| (j.is_some_and(|s| !s.trim().is_empty()), v.flatten()))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let values: Vec<Option<&Json>> = parsed.iter().map(|(_, v)| v.as_ref()).collect();
                match &schema {
                    // A record that is not an object is a row of NULL fields (Spark's PERMISSIVE mode).
                    DataType::Struct(fields) => {
                        let present: Vec<bool> = parsed.iter().map(|(p, _)| *p).collect();
                        build_struct(&values, fields, Some(NullBuffer::from(present)), &opts)?
                    }
                    t => build(&values, t, &opts)?,
                }
            }
        };
        columnar(out, scalar)
    }
}

/// A map key type inside `t` that `to_json` does not write: Spark writes a key as the `toString` of its internal
/// value, which for bytes and maps is a JVM object address.
fn unwritable(t: &DataType) -> Option<String> {
    match t {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) => {
                let k = kv[0].data_type();
                if writable_key(k) {
                    unwritable(kv[1].data_type())
                } else {
                    Some(crate::types::spark_type(k).unwrap_or_else(|_| k.to_string()))
                }
            }
            _ => None,
        },
        DataType::List(f) | DataType::LargeList(f) => unwritable(f.data_type()),
        DataType::Struct(fields) => fields.iter().find_map(|f| unwritable(f.data_type())),
        _ => None,
    }
}

fn writable_key(t: &DataType) -> bool {
    match t {
        DataType::List(f) => writable_key(f.data_type()),
        DataType::Struct(fields) => fields.iter().all(|f| writable_key(f.data_type())),
        t => {
            crate::functions::common::is_string_type(t)
                || t.is_integer()
                || matches!(
                    t,
                    DataType::Boolean
                        | DataType::Float32
                        | DataType::Float64
                        | DataType::Decimal128(..)
                        | DataType::Date32
                        | DataType::Timestamp(TimeUnit::Microsecond, _)
                )
        }
    }
}
