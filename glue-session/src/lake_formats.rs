//! The lakehouse formats a Glue session loads, and through which profile key: `datalake_formats` (Glue 4 and later:
//! Glue adds the libraries itself), or one of the reference page's other ways, a Glue connection to a marketplace
//! connector (Glue 3), a jar of `extra_jars`, or Spark settings of `conf` that only the format's classes answer.
//! Only the first is Glue's own promise; the others are taken on trust, and the engines say so once per run.

use std::collections::BTreeSet;
use std::sync::Mutex;

use glue_materialize::{FileFormat, Plan};

use crate::profile::{DatalakeFormat, GlueProfile, ProfileOrigin};

/// The profile key through which a session loads a lakehouse format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatRoute {
    /// `datalake_formats`: Glue loads the format's libraries itself.
    DatalakeFormats,
    /// A Glue connection of `connections` whose name names the format (a marketplace connector on Glue 3).
    Connection(String),
    /// A jar of `extra_jars` whose file name names the format.
    ExtraJar(String),
    /// A Spark setting of `conf` (`key=value`) that only the format's classes answer.
    Conf(String),
}

impl FormatRoute {
    /// The profile key.
    pub fn key(&self) -> &'static str {
        match self {
            FormatRoute::DatalakeFormats => "datalake_formats",
            FormatRoute::Connection(_) => "connections",
            FormatRoute::ExtraJar(_) => "extra_jars",
            FormatRoute::Conf(_) => "conf",
        }
    }

    /// The key and what in it names the format, for messages: `` `connections` (`Iceberg Connector`) ``.
    fn describe(&self) -> String {
        match self {
            FormatRoute::DatalakeFormats => "`datalake_formats`".into(),
            FormatRoute::Connection(v) | FormatRoute::ExtraJar(v) | FormatRoute::Conf(v) => {
                format!("`{}` (`{v}`)", self.key())
            }
        }
    }
}

fn format_of(f: DatalakeFormat) -> FileFormat {
    match f {
        DatalakeFormat::Delta => FileFormat::Delta,
        DatalakeFormat::Iceberg => FileFormat::Iceberg,
        DatalakeFormat::Hudi => FileFormat::Hudi,
    }
}

const LAKEHOUSE: [FileFormat; 3] = [FileFormat::Delta, FileFormat::Iceberg, FileFormat::Hudi];

/// The formats a name mentions (a connection, a jar's file name): `iceberg`, `delta`, `hudi`, case-insensitively.
fn named_in(name: &str) -> impl Iterator<Item = FileFormat> + '_ {
    let lower = name.to_ascii_lowercase();
    LAKEHOUSE.into_iter().filter(move |f| lower.contains(f.as_str()))
}

/// The format whose classes a Spark setting names: the session extensions and catalog implementations of the
/// reference page (Iceberg's `IcebergSparkSessionExtensions` / `SparkCatalog`, Delta's `DeltaSparkSessionExtension` /
/// `DeltaCatalog`, Hudi's `HoodieSparkSessionExtension` / `HoodieCatalog`), and the jars of `spark.jars`.
fn conf_formats(key: &str, value: &str) -> Vec<FileFormat> {
    let is_catalog_impl = key
        .strip_prefix("spark.sql.catalog.")
        .is_some_and(|name| !name.is_empty() && !name.contains('.'));
    if key == "spark.sql.extensions" || is_catalog_impl {
        let classes = [
            ("org.apache.iceberg.spark.", FileFormat::Iceberg),
            ("io.delta.sql.", FileFormat::Delta),
            ("org.apache.spark.sql.delta.", FileFormat::Delta),
            ("org.apache.spark.sql.hudi.", FileFormat::Hudi),
        ];
        return value
            .split(',')
            .map(str::trim)
            .filter_map(|class| classes.iter().find(|(p, _)| class.starts_with(p)).map(|(_, f)| *f))
            .collect();
    }
    if key == "spark.jars" || key == "spark.jars.packages" {
        return value
            .split(',')
            .flat_map(|j| named_in(j.rsplit('/').next().unwrap_or(j)).collect::<Vec<_>>())
            .collect();
    }
    Vec::new()
}

/// Every lakehouse format the profile's session loads, each with the first key that loads it (`datalake_formats`
/// first, then `connections`, `extra_jars`, `conf`).
pub fn lakehouse_formats(profile: &GlueProfile) -> Vec<(FileFormat, FormatRoute)> {
    let mut out: Vec<(FileFormat, FormatRoute)> = Vec::new();
    let mut add = |f: FileFormat, route: FormatRoute| {
        if !out.iter().any(|(g, _)| *g == f) {
            out.push((f, route));
        }
    };
    for (f, route) in listed(&profile.datalake_formats) {
        add(f, route);
    }
    for c in &profile.connections {
        for f in named_in(c) {
            add(f, FormatRoute::Connection(c.clone()));
        }
    }
    for jar in profile.extra_jars.iter().flat_map(|j| j.split(',')).map(str::trim) {
        for f in named_in(jar.rsplit('/').next().unwrap_or(jar)) {
            add(f, FormatRoute::ExtraJar(jar.to_string()));
        }
    }
    for (k, v) in &profile.conf {
        for f in conf_formats(k, v) {
            add(f, FormatRoute::Conf(format!("{k}={v}")));
        }
    }
    out
}

/// The formats of a `datalake_formats` list, each loaded through it.
pub(crate) fn listed(formats: &[DatalakeFormat]) -> Vec<(FileFormat, FormatRoute)> {
    formats
        .iter()
        .map(|f| (format_of(*f), FormatRoute::DatalakeFormats))
        .collect()
}

/// How to load a format no key of the profile loads: the `datalake_formats` line to write (keeping the formats it
/// lists) and where; on a Glue session (`glue`) also the reference page's other ways.
pub(crate) fn how_to_enable(
    format: FileFormat,
    listed: &[DatalakeFormat],
    origin: Option<&ProfileOrigin>,
    glue: bool,
) -> String {
    let mut names: Vec<&str> = listed.iter().map(|f| format_of(*f).as_str()).collect();
    names.push(format.as_str());
    let place = match origin {
        Some(o) => format!(" of target `{}` in {}", o.target, o.file.display()),
        None => String::new(),
    };
    let line = format!("`datalake_formats: {}`", names.join(","));
    if glue {
        format!(
            "the profile's `datalake_formats` does not list it and no other key loads it: add {line} to the output\
             {place} (Glue 4 and later), or on Glue 3 name its connector in `connections`, its jar in `extra_jars` or \
             its Spark classes in `conf`"
        )
    } else {
        format!(
            "the profile's `datalake_formats` does not list it: if the server writes it, add {line} to the output\
             {place}"
        )
    }
}

/// The formats a profile loads that glue-rs takes on trust (not from `datalake_formats`), warned about once per run.
#[derive(Debug, Default)]
pub(crate) struct Unverified {
    routes: Vec<(FileFormat, FormatRoute)>,
    warned: Mutex<BTreeSet<FileFormat>>,
}

impl Unverified {
    pub(crate) fn new(routes: Vec<(FileFormat, FormatRoute)>) -> Self {
        Unverified {
            routes: routes
                .into_iter()
                .filter(|(_, r)| *r != FormatRoute::DatalakeFormats)
                .collect(),
            warned: Mutex::new(BTreeSet::new()),
        }
    }

    /// The warning for each such format `plan` writes, the first time in the run.
    pub(crate) fn warnings(&self, plan: &Plan) -> Vec<String> {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for step in &plan.steps {
            let Some(f) = step.format() else { continue };
            let f = if f == FileFormat::S3Tables {
                FileFormat::Iceberg
            } else {
                f
            };
            if let Some((_, route)) = self.routes.iter().find(|(g, _)| *g == f)
                && warned.insert(f)
            {
                out.push(format!(
                    "file_format `{f}` is loaded through the profile's {}, not `datalake_formats`: glue-rs cannot \
                     verify that the session has its libraries (a missing one fails the statements that use it)",
                    route.describe()
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn settings_of_a_catalog_are_not_its_implementation() {
        assert_eq!(
            conf_formats(
                "spark.sql.catalog.glue_catalog",
                "org.apache.iceberg.spark.SparkCatalog"
            ),
            [FileFormat::Iceberg]
        );
        assert!(
            conf_formats(
                "spark.sql.catalog.glue_catalog.io-impl",
                "org.apache.iceberg.aws.s3.S3FileIO"
            )
            .is_empty()
        );
        assert_eq!(
            conf_formats(
                "spark.sql.extensions",
                "io.delta.sql.DeltaSparkSessionExtension, org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
            ),
            [FileFormat::Delta, FileFormat::Iceberg]
        );
        assert_eq!(
            conf_formats(
                "spark.jars.packages",
                "org.apache.hudi:hudi-spark3.3-bundle_2.12:0.12.1"
            ),
            [FileFormat::Hudi]
        );
    }

    #[test]
    fn the_line_to_add_keeps_the_listed_formats_and_names_the_file() {
        let origin = ProfileOrigin {
            file: PathBuf::from("/p/profiles.yml"),
            target: "dev".into(),
        };
        let text = how_to_enable(FileFormat::Delta, &[DatalakeFormat::Iceberg], Some(&origin), true);
        assert!(text.contains("`datalake_formats: iceberg,delta`"), "{text}");
        assert!(text.contains("target `dev` in /p/profiles.yml"), "{text}");
    }
}
