//! The closed sets of values a model's config takes (`materialized`, `file_format`, `on_schema_change`, …), each
//! with its dbt spellings, matched case-insensitively.

use glue_sql::snapshot::HardDeletes;

/// Defines a closed set of config values with their dbt spellings (matched case-insensitively).
macro_rules! config_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The dbt spelling of every value.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The dbt spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a dbt spelling (case-insensitive).
            pub fn parse(text: &str) -> Option<Self> {
                let t = text.trim().to_ascii_lowercase();
                $(if t == $text $(|| t == $alias)* { return Some($name::$variant); })+
                None
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

config_enum! {
    /// `materialized`.
    Materialization {
        /// A table rebuilt on every run.
        Table = "table",
        /// A view.
        View = "view",
        /// A table updated incrementally.
        Incremental = "incremental",
        /// A CSV seed.
        Seed = "seed",
        /// An SCD2 snapshot.
        Snapshot = "snapshot",
        /// Inlined as a CTE into its consumers; nothing is built.
        Ephemeral = "ephemeral",
    }
}

config_enum! {
    /// `incremental_strategy`.
    IncrementalStrategy {
        /// INSERT INTO.
        Append = "append",
        /// INSERT OVERWRITE (the partitions present in the new data, or the whole table without partition_by).
        InsertOverwrite = "insert_overwrite",
        /// MERGE on unique_key (Delta, Iceberg, Hudi, S3 Tables).
        Merge = "merge",
        /// dbt 1.9's microbatch: the run is split into time batches of `batch_size` on `event_time`, each one
        /// replacing its window of the table (planned batch by batch: [`crate::microbatch`]).
        Microbatch = "microbatch",
    }
}

config_enum! {
    /// `batch_size` of a microbatch model: the grain its batches are aligned to (UTC).
    BatchSize {
        /// One hour.
        Hour = "hour",
        /// One day.
        Day = "day",
        /// One calendar month.
        Month = "month",
        /// One calendar year.
        Year = "year",
    }
}

config_enum! {
    /// `file_format`.
    FileFormat {
        /// Apache Parquet (the default).
        Parquet = "parquet",
        /// CSV.
        Csv = "csv",
        /// JSON lines.
        Json = "json",
        /// ORC.
        Orc = "orc",
        /// Avro.
        Avro = "avro",
        /// Text (one string column).
        Text = "text",
        /// Delta Lake.
        Delta = "delta",
        /// Apache Iceberg in the Glue catalog.
        Iceberg = "iceberg",
        /// Apache Hudi.
        Hudi = "hudi",
        /// Iceberg in Amazon S3 Tables.
        S3Tables = "s3tables",
    }
}

impl FileFormat {
    /// The Spark data source name (`USING …`).
    pub fn provider(self) -> &'static str {
        match self {
            Self::S3Tables => "iceberg",
            f => f.as_str(),
        }
    }

    /// Delta, Iceberg, Hudi and S3 Tables: table formats with their own transaction log.
    pub fn is_lakehouse(self) -> bool {
        matches!(self, Self::Delta | Self::Iceberg | Self::Hudi | Self::S3Tables)
    }

    /// Formats with MERGE INTO.
    pub fn supports_merge(self) -> bool {
        self.is_lakehouse()
    }

    /// Formats whose `CREATE OR REPLACE TABLE` swaps the data atomically.
    pub fn atomic_replace(self) -> bool {
        matches!(self, Self::Delta | Self::Iceberg | Self::S3Tables)
    }

    /// Iceberg and S3 Tables: relations carry the Spark catalog prefix.
    pub fn in_iceberg_catalog(self) -> bool {
        matches!(self, Self::Iceberg | Self::S3Tables)
    }

    /// Formats whose tables Spark can `ALTER TABLE … ADD COLUMNS`.
    pub fn can_add_columns(self) -> bool {
        !matches!(self, Self::Text)
    }

    /// Formats whose tables can drop columns (Iceberg, S3 Tables; Delta only with column mapping, checked at run time).
    pub fn can_drop_columns(self) -> bool {
        matches!(self, Self::Iceberg | Self::S3Tables | Self::Delta)
    }

    /// Formats accepting Iceberg partition transforms in `partition_by`.
    pub fn accepts_partition_transforms(self) -> bool {
        self.in_iceberg_catalog()
    }

    /// The formats the merge strategy accepts.
    pub fn merge_formats() -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|f| f.supports_merge())
            .map(|f| f.as_str())
            .collect()
    }
}

config_enum! {
    /// `on_schema_change`.
    OnSchemaChange {
        /// Keep the table's columns; new source columns are not written.
        Ignore = "ignore",
        /// Fail the model when the columns differ.
        Fail = "fail",
        /// Add new source columns to the table.
        AppendNewColumns = "append_new_columns",
        /// Add new columns, drop removed ones, change types.
        SyncAllColumns = "sync_all_columns",
    }
}

config_enum! {
    /// Snapshot `strategy`.
    SnapshotStrategy {
        /// Changes detected by an updated-at timestamp.
        Timestamp = "timestamp",
        /// Changes detected by comparing columns.
        Check = "check",
    }
}

config_enum! {
    /// Snapshot `hard_deletes`.
    HardDeletesMode {
        /// Rows deleted at the source stay current.
        Ignore = "ignore",
        /// Deleted rows are closed.
        Invalidate = "invalidate",
        /// Deleted rows are closed and a deletion record is added.
        NewRecord = "new_record",
    }
}

impl From<HardDeletesMode> for HardDeletes {
    fn from(value: HardDeletesMode) -> Self {
        match value {
            HardDeletesMode::Ignore => Self::Ignore,
            HardDeletesMode::Invalidate => Self::Invalidate,
            HardDeletesMode::NewRecord => Self::NewRecord,
        }
    }
}

config_enum! {
    /// Profile `seed_mode` (Spark writer mode for seeds).
    SeedMode {
        /// Replace the seed's rows.
        Overwrite = "overwrite",
        /// Add the rows.
        Append = "append",
        /// Fail if the table exists.
        ErrorIfExists = "errorifexists" | "error",
        /// Do nothing if the table exists.
        Ignore = "ignore",
    }
}
