//! A plan's steps over Livy: the operations of one model gathered into requests to the session's runner (one
//! request, unless a late-bound step needs the columns of a relation built earlier in the same plan, or a step works
//! outside the session), each operation remembering the step it came from.

use async_trait::async_trait;
use glue_lakeformation::LakeFormation;
use glue_materialize::engine::PlanOutcome;
use glue_materialize::step::{HudiOperation, Step};
use glue_materialize::{EngineError, Plan, RenderError, Rendered};
use glue_sql::RelationName;
use glue_sql::types::ColumnDef;

use crate::catalog::Catalog;
use crate::error::SessionError;
use crate::livy::LivySession;
use crate::request::{Op, Request};
use crate::seed::SeedLoad;
use crate::steps::{Need, PlanFailure, Protocol, column_defs, lost_staging_race, run_steps, step_error};

pub(crate) const ENGINE: &str = "Glue Interactive Sessions";

/// Runs a plan on one session: `first` (the schema's database, the refresh of what it reads), then its steps.
pub(crate) async fn run_plan(
    session: &LivySession,
    catalog: Catalog,
    lake_formation: &LakeFormation,
    plan: &Plan,
    first: Vec<Op>,
    now: &str,
) -> Result<PlanOutcome, PlanFailure> {
    let mut run = LivyRun {
        session,
        catalog,
        lake_formation,
        plan,
        batch: Batch::default(),
    };
    for op in first {
        run.batch.push(op, None);
    }
    let mut outcome = PlanOutcome::default();
    run_steps(&mut run, plan, now, &mut outcome).await?;
    Ok(outcome)
}

/// One plan on one Livy session.
struct LivyRun<'a> {
    session: &'a LivySession,
    catalog: Catalog,
    lake_formation: &'a LakeFormation,
    plan: &'a Plan,
    batch: Batch,
}

/// Operations waiting to be sent, with the plan step each came from.
#[derive(Default)]
struct Batch {
    ops: Vec<Op>,
    owners: Vec<Option<usize>>,
    /// Whether each operation only reads (the columns a late-bound step needs).
    reads: Vec<bool>,
    steps: Vec<String>,
    /// Steps sent so far (in requests answered or lost) or run natively: what a lost session may have applied.
    touched: Vec<usize>,
}

impl Batch {
    fn push(&mut self, op: Op, step: Option<usize>) {
        self.ops.push(op);
        self.owners.push(step);
        self.reads.push(false);
    }

    /// An operation that only reads, for `step`.
    fn push_read(&mut self, op: Op, step: usize) {
        self.ops.push(op);
        self.owners.push(Some(step));
        self.reads.push(true);
    }
}

impl LivyRun<'_> {
    /// Sends the pending operations as one request; a failure names the step its operation came from.
    async fn send(&mut self, outcome: &mut PlanOutcome) -> Result<Vec<serde_json::Value>, PlanFailure> {
        let (plan, batch) = (self.plan, &mut self.batch);
        if batch.ops.is_empty() {
            outcome.executed.append(&mut batch.steps);
            return Ok(Vec::new());
        }
        let comment = plan.query_comment.as_ref();
        // Every SQL statement of the node carries its query comment.
        let ops = std::mem::take(&mut batch.ops)
            .into_iter()
            .map(|op| match (op, comment) {
                (Op::Sql { sql }, Some(c)) => Op::Sql { sql: c.apply(&sql) },
                (Op::Scoped { sql, settings }, Some(c)) => Op::Scoped {
                    sql: c.apply(&sql),
                    settings,
                },
                (op, _) => op,
            })
            .collect();
        let owners = std::mem::take(&mut batch.owners);
        let reads = std::mem::take(&mut batch.reads);
        let writers = owners.iter().zip(&reads).filter(|(_, read)| !**read);
        batch.touched.extend(writers.filter_map(|(o, _)| *o));
        let a = match self.session.run_request_commented(&Request { ops }, comment).await {
            Ok(a) => a,
            Err(e @ SessionError::SessionLost { .. }) => {
                return Err(PlanFailure::Lost(e, not_replayable(plan, &batch.touched)));
            }
            Err(e) => return Err(step_error(plan, None, e).into()),
        };
        match a.into_results() {
            Ok(results) => {
                outcome.executed.append(&mut batch.steps);
                Ok(results)
            }
            Err((failed_op, e)) => {
                let step = failed_op
                    .and_then(|i| owners.get(i).copied().flatten())
                    .and_then(|i| plan.steps.get(i));
                if let Some(s) = step {
                    self.discard_lost_staging(s, &e).await;
                }
                Err(step_error(plan, step, e).into())
            }
        }
    }

    /// A rebuild's CTAS that lost the race for the staging table to another run (Spark checks the name, writes
    /// the data, then creates the entry, and the other run created it in between) leaves its data in this run's
    /// own version directory: nobody will publish it, so it goes now rather than waiting for the next rebuild.
    async fn discard_lost_staging(&self, step: &Step, e: &SessionError) {
        let Step::CreateTableAs { table, .. } = step else {
            return;
        };
        let Some(location) = table.location.as_deref() else {
            return;
        };
        if lost_staging_race(self.plan, step, e).is_none()
            || !table.own_location
            || !crate::catalog::is_version_dir(location)
        {
            return;
        }
        if let Err(e) = self.catalog.delete_location(location).await {
            tracing::warn!("could not remove {location}, the data of a rebuild that was not published: {e}");
        }
    }
}

#[async_trait]
impl Protocol for LivyRun<'_> {
    fn engine(&self) -> &'static str {
        ENGINE
    }

    fn render_error(&self, step: &Step, e: RenderError) -> EngineError {
        EngineError::Other {
            context: format!("step {step}"),
            source: Box::new(e),
        }
    }

    fn catalog(&self) -> Option<&Catalog> {
        Some(&self.catalog)
    }

    fn lake_formation(&self) -> Option<&LakeFormation> {
        Some(self.lake_formation)
    }

    /// Runs what is pending, fetching the columns in the same request.
    async fn columns(
        &mut self,
        index: usize,
        needs: &[Need],
        outcome: &mut PlanOutcome,
    ) -> Result<Vec<(Need, Vec<ColumnDef>)>, PlanFailure> {
        let plan = self.plan;
        let native_err = |e: SessionError| step_error(plan, plan.steps.get(index), e);
        let mut sorted = needs.to_vec();
        sorted.sort();
        let first = self.batch.ops.len();
        for n in &sorted {
            let op = match n {
                Need::Relation(r) => Op::Columns { relation: r.clone() },
                Need::Query(q) => Op::QueryColumns { sql: q.clone() },
            };
            self.batch.push_read(op, index);
        }
        let results = self.send(outcome).await?;
        let answers = answers_from(&results, first, sorted.len()).map_err(native_err)?;
        let mut out = Vec::with_capacity(sorted.len());
        for (n, v) in sorted.into_iter().zip(answers) {
            out.push((n, columns_of(v).map_err(native_err)?));
        }
        Ok(out)
    }

    async fn flush(&mut self, outcome: &mut PlanOutcome) -> Result<(), PlanFailure> {
        self.send(outcome).await.map(|_| ())
    }

    async fn statement(&mut self, index: usize, r: Rendered, _outcome: &mut PlanOutcome) -> Result<(), PlanFailure> {
        if let Some(op) = Op::rendered(r) {
            self.batch.push(op, Some(index));
        }
        Ok(())
    }

    async fn refresh(&mut self, index: usize, table: &RelationName) -> Result<(), PlanFailure> {
        let sql = glue_sql::ddl::refresh_table(table);
        self.batch.push(Op::Sql { sql }, Some(index));
        Ok(())
    }

    async fn seed_rows(&mut self, index: usize, seed: &SeedLoad) -> Result<(), PlanFailure> {
        let step = self.plan.steps.get(index);
        let view = Op::arrow_view(seed.view.as_str(), &seed.batches, &seed.schema)
            .map_err(|e| step_error(self.plan, step, e))?;
        self.batch.push(view, Some(index));
        Ok(())
    }

    /// Python models and Hudi writes: PySpark in the session's runner.
    async fn own_step(&mut self, index: usize, step: &Step) -> Result<bool, PlanFailure> {
        let op = match step {
            Step::RunPython { view, code, context } => {
                let context: serde_json::Value = serde_json::from_str(context).map_err(|e| {
                    let e = SessionError::Protocol(format!("the Python model's context: {e}"));
                    step_error(self.plan, Some(step), e)
                })?;
                Op::PythonModel {
                    code: code.clone(),
                    view: view.as_str().to_string(),
                    context,
                    name: format!("{}.py", self.plan.model),
                }
            }
            Step::HudiWrite {
                relation,
                location,
                query,
                options,
                operation,
                substitute_variables,
            } => {
                let mode = match operation {
                    HudiOperation::BulkInsert => "overwrite",
                    HudiOperation::Upsert | HudiOperation::InsertOverwriteTable => "append",
                };
                Op::HudiWrite {
                    query: query.as_str().to_string(),
                    path: location.clone(),
                    options: options.clone(),
                    mode: mode.into(),
                    substitute_variables: substitute_variables.clone(),
                    table: relation.to_string(),
                }
            }
            _ => return Ok(false),
        };
        self.batch.push(op, Some(index));
        Ok(true)
    }

    fn touched(&mut self, index: usize) {
        self.batch.touched.push(index);
    }

    fn done(&mut self, step: String, _outcome: &mut PlanOutcome) {
        self.batch.steps.push(step);
    }
}

/// The first step of `plan` among `touched` (steps sent or done) that cannot run twice.
fn not_replayable(plan: &Plan, touched: &[usize]) -> Option<usize> {
    touched
        .iter()
        .copied()
        .filter(|i| plan.steps.get(*i).is_some_and(|s| !s.replayable()))
        .min()
}

/// The failure of a plan whose session ended after a step that cannot run twice may have run.
pub(crate) fn partially_applied(plan: &Plan, step: usize, e: SessionError) -> EngineError {
    let what = plan.steps.get(step).map(|s| s.to_string()).unwrap_or_default();
    let table = plan
        .relation
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_else(|| plan.model.clone());
    EngineError::Other {
        context: format!(
            "model `{}` may be partially applied: its Glue session ended after step `{what}` ran or may have run; \
             it is not run again, since running it twice could apply it twice. Check {table} (rows of this run, \
             the last table version) before running the model again",
            plan.model
        ),
        source: Box::new(e),
    }
}

/// The answers to the `count` operations sent from position `first` of a request: a runner that answered fewer is
/// a protocol error.
fn answers_from(
    results: &[serde_json::Value],
    first: usize,
    count: usize,
) -> Result<&[serde_json::Value], SessionError> {
    results.get(first..first + count).ok_or_else(|| {
        SessionError::Protocol(format!(
            "the runner answered {} operations of a request, {} expected",
            results.len(),
            first + count
        ))
    })
}

/// A runner's column list: `(name, Spark type)` pairs.
pub(crate) fn columns_of(v: &serde_json::Value) -> Result<Vec<ColumnDef>, SessionError> {
    let pairs: Vec<(String, String)> =
        serde_json::from_value(v.clone()).map_err(|e| SessionError::Protocol(format!("a column list: {e}")))?;
    column_defs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runner_answering_fewer_results_than_operations_is_an_error_not_a_panic() {
        let results = vec![serde_json::json!(null)];
        assert_eq!(answers_from(&results, 0, 1).unwrap().len(), 1);
        for (first, count) in [(1, 1), (3, 2), (0, 2)] {
            let e = answers_from(&results, first, count).unwrap_err().to_string();
            assert!(e.contains("answered 1 operations"), "{e}");
        }
    }
}
