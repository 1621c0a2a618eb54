//! Physical-plan corrections for DataFusion 53 bugs that change answers.
//!
//! [`KeepMemoryFetch`]: DataFusion's `ProjectionPushdown` swaps a projection into an in-memory source
//! (`MemorySourceConfig::try_swapping_with_projection`) by building a new source without the row limit
//! (`fetch`) that `LimitPushdown` had moved into it, so `SELECT count(*) FROM (SELECT * FROM VALUES … LIMIT 3)`
//! counted every row. Worth reporting upstream; until it is fixed there, this rule runs between the two and keeps
//! the limit as its own node above such a source.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// Keeps an in-memory source's row limit as a `GlobalLimitExec` above it (see the module docs).
#[derive(Debug, Default)]
pub struct KeepMemoryFetch;

impl PhysicalOptimizerRule for KeepMemoryFetch {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|p| {
            let limited = p
                .as_any()
                .downcast_ref::<DataSourceExec>()
                .filter(|ds| ds.data_source().as_any().is::<MemorySourceConfig>())
                .and_then(|ds| ds.fetch());
            // A source of several partitions fetches per partition: the limit stays per partition (a global limit
            // needs one input partition).
            Ok(match limited {
                Some(fetch) if p.output_partitioning().partition_count() == 1 => {
                    Transformed::yes(Arc::new(GlobalLimitExec::new(p, 0, Some(fetch))) as _)
                }
                Some(fetch) => Transformed::yes(Arc::new(LocalLimitExec::new(p, fetch)) as _),
                None => Transformed::no(p),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "keep_memory_fetch"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// DataFusion's physical optimizer rules with [`KeepMemoryFetch`] right after `LimitPushdown`.
pub fn optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
    let at = rules
        .iter()
        .position(|r| r.name() == "LimitPushdown")
        .map(|i| i + 1)
        .unwrap_or(rules.len());
    rules.insert(at, Arc::new(KeepMemoryFetch));
    rules
}
