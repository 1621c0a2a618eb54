//! Locations as glue-rs compares them.

/// `location` as compared: the scheme in lower case, `s3a://` and `s3n://` as `s3://`, no trailing `/`.
///
/// ```
/// assert_eq!(glue_materialize::location::normalized("S3A://lake/t/"), "s3://lake/t");
/// assert_eq!(glue_materialize::location::normalized("/tmp/w"), "/tmp/w");
/// ```
pub fn normalized(location: &str) -> String {
    let l = location.trim().trim_end_matches('/');
    match l.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            let scheme = if scheme == "s3a" || scheme == "s3n" {
                "s3"
            } else {
                scheme.as_str()
            };
            format!("{scheme}://{rest}")
        }
        None => l.to_string(),
    }
}
