//! The names of the staging tables a rebuild builds before it switches them in.
//!
//! Each run stages under a name of its own, `<alias>__dbt_swap_<run tag>`, so two runs of one model never drop,
//! replace or publish each other's staging table: the first to switch publishes its own result and the other fails
//! clearly (its switch is guarded by the version of the entry it read, see
//! [`Step::SwapTable`](crate::Step::SwapTable)). A staging table that a run left behind when it stopped before its
//! switch is removed by the next switch of the table (or, for a `custom_location` rebuild, which is not guarded, by
//! the next rebuild's [`Step::DropOtherStaging`](crate::Step::DropOtherStaging)); glue-rs before per-run names used
//! the fixed `<alias>__dbt_swap`, which counts as another run's. Temporary relations (an incremental run's
//! `<alias>_<custom_temp_suffix>`, a snapshot's `<alias>__dbt_tmp`) carry the run too, `<name>__run_<run tag>`; an
//! Iceberg temporary table a crashed run left goes at the end of the model's next incremental run.
//!
//! ```
//! use glue_materialize::staging;
//!
//! let ours = staging::staging_name("orders", "3f2a9c1e-77b0-4d2e-9a51-0c6de1f0aa42");
//! assert_eq!(ours, "orders__dbt_swap_3f2a9c1e77b0");
//! assert!(staging::is_other_runs_staging(&ours, "orders__dbt_swap_0a1b2c3d4e5f"));
//! assert!(staging::is_other_runs_staging(&ours, "orders__dbt_swap"));
//! assert!(!staging::is_other_runs_staging(&ours, &ours));
//! assert!(!staging::is_other_runs_staging(&ours, "orders_archive__dbt_swap_0a1b2c3d4e5f"));
//! ```

/// What separates the model's alias from the run tag.
const MARK: &str = "__dbt_swap";
/// At most this many characters of the invocation id tag a run (48 bits of a UUID: two runs of one model at once
/// never share one).
const TAG_LEN: usize = 12;

/// The tag of a run's staging tables: the invocation id's ASCII letters and digits, lower-cased (Spark's table names
/// allow no `-`, Glue folds names to lower case), at most 12 of them; `0` when it has none.
pub fn run_tag(invocation_id: &str) -> String {
    let tag: String = invocation_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(TAG_LEN)
        .collect();
    if tag.is_empty() { "0".into() } else { tag }
}

/// The staging table of the run `invocation_id` for the model `alias`: `<alias>__dbt_swap_<run tag>`.
pub fn staging_name(alias: &str, invocation_id: &str) -> String {
    format!("{alias}{MARK}_{}", run_tag(invocation_id))
}

/// The staging table of the run whose version directories end in `__v<invocation id>` (see
/// [`table_location`](crate::table_location)): the name its staging table has beside `ours`, when `ours` is a
/// staging name.
pub fn staging_of_run(ours: &str, invocation_id: &str) -> Option<String> {
    let (alias, _) = split(ours)?;
    Some(staging_name(alias, invocation_id))
}

/// Whether `name` is another run's staging table of the model whose staging table this run named `ours` (same
/// alias, another tag, or the fixed name of earlier glue-rs versions). Names compare as Glue stores them, in lower
/// case.
pub fn is_other_runs_staging(ours: &str, name: &str) -> bool {
    let (ours, name) = (ours.to_ascii_lowercase(), name.to_ascii_lowercase());
    let Some((alias, tag)) = split(&ours) else {
        return false;
    };
    match split(&name) {
        Some((a, t)) => a == alias && t != tag,
        None => false,
    }
}

/// The name a model of schema `model_schema` gives its scratch table `name` (a staging or temporary table) in a
/// `temp_schema` other than its own: `<model schema>__<name>`, so models of one alias in two schemas, built at once
/// by one run, never share one there.
pub fn in_temp_schema(model_schema: &str, name: &str) -> String {
    format!("{model_schema}__{name}")
}

/// What separates a temporary relation's name (`<alias>_<custom_temp_suffix>`, a snapshot's `<alias>__dbt_tmp`) from
/// the run tag.
const TEMP_MARK: &str = "__run_";

/// The temporary relation of the run `invocation_id` named `base` (dbt-glue's name: `<alias>_tmp`, a snapshot's
/// `<alias>__dbt_tmp`): `<base>__run_<run tag>`. Two runs of one model (or two runs sharing a reused session, where
/// temporary views live) never read each other's rows.
pub fn temp_name(base: &str, invocation_id: &str) -> String {
    format!("{base}{TEMP_MARK}{}", run_tag(invocation_id))
}

/// Whether `name` is another run's temporary relation of the same base as `ours` (a name [`temp_name`] made). Names
/// without the run mark never are: a table named `<alias>_tmp` may be a model of its own.
pub fn is_other_runs_temp(ours: &str, name: &str) -> bool {
    let (ours, name) = (ours.to_ascii_lowercase(), name.to_ascii_lowercase());
    match (tagged(&ours, TEMP_MARK), tagged(&name, TEMP_MARK)) {
        (Some((b1, t1)), Some((b2, t2))) => b1 == b2 && t1 != t2,
        _ => false,
    }
}

/// `(alias, tag)` of a staging name; the tag is empty for the fixed name of earlier versions.
fn split(name: &str) -> Option<(&str, &str)> {
    if let Some(alias) = name.strip_suffix(MARK) {
        return (!alias.is_empty()).then_some((alias, ""));
    }
    tagged(name, &format!("{MARK}_"))
}

/// `(base, tag)` of `<base><mark><run tag>`, when the part after the last `mark` is a run tag ([`run_tag`]: 1 to 12
/// lower-case letters and digits) and the base is not empty.
fn tagged<'n>(name: &'n str, mark: &str) -> Option<(&'n str, &'n str)> {
    let (base, tag) = name.rsplit_once(mark)?;
    let ok = !base.is_empty()
        && !tag.is_empty()
        && tag.len() <= TAG_LEN
        && tag.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    ok.then_some((base, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_spark_table_names() {
        assert_eq!(run_tag("run42"), "run42");
        assert_eq!(run_tag("AB-cd_ef"), "abcdef");
        assert_eq!(run_tag("---"), "0");
        assert_eq!(staging_name("t", "p12n3"), "t__dbt_swap_p12n3");
    }

    #[test]
    fn other_runs_are_told_from_ours_and_from_other_models() {
        let ours = staging_name("t", "aaaa");
        assert!(is_other_runs_staging(&ours, "t__dbt_swap_bbbb"));
        assert!(is_other_runs_staging(&ours, "T__DBT_SWAP_BBBB"));
        assert!(is_other_runs_staging(&ours, "t__dbt_swap"));
        assert!(!is_other_runs_staging(&ours, "t__dbt_swap_aaaa"));
        assert!(!is_other_runs_staging(&ours, "t"));
        assert!(!is_other_runs_staging(&ours, "t__dbt_swap_toolongtobeatag"));
        assert!(!is_other_runs_staging(&ours, "x_t__dbt_swap_bbbb"));
        assert!(!is_other_runs_staging(&ours, "t__dbt_swap_bb-b"));
        assert!(
            !is_other_runs_staging("t", "t__dbt_swap_bbbb"),
            "ours is no staging name"
        );
        assert_eq!(staging_of_run(&ours, "b-b").as_deref(), Some("t__dbt_swap_bb"));
        let tmp = temp_name("t_tmp", "aaaa");
        assert_eq!(tmp, "t_tmp__run_aaaa");
        assert!(is_other_runs_temp(&tmp, "t_tmp__run_bbbb"));
        assert!(!is_other_runs_temp(&tmp, &tmp));
        assert!(!is_other_runs_temp(&tmp, "t_tmp"), "a model may be named so");
        assert!(!is_other_runs_temp(&tmp, "t_tmpx__run_bbbb"));
        assert!(!is_other_runs_temp(&tmp, "t_tmp__run_b-b"));
    }
}
