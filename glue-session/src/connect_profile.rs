//! The profile of a target on any Spark Connect server (`method: spark_connect`), and its `sc://` URL: parsed as
//! the client will parse it, its tokens never shown, and never sent in plaintext to a host that is not loopback.

use serde_json::{Map, Value};
use spark_connect_core::channel::ChannelBuilder;

use crate::error::ProfileError;
use crate::profile::{DatalakeFormat, GlueProfile, datalake_formats};
use crate::profile_values::{Output, spark_conf, text};

/// Every option [`SparkConnectProfile::from_output`] reads itself, and only those (with `catalog: glue`, the output
/// is also read as a [`GlueProfile`], through [`GLUE_PROFILE_KEYS`](crate::GLUE_PROFILE_KEYS)).
pub const SPARK_CONNECT_PROFILE_KEYS: &[&str] = &["host", "token", "datalake_formats", "location", "conf", "catalog"];

/// A target on any Spark Connect server (`method: spark_connect`): no AWS involved.
#[derive(Clone, PartialEq)]
pub struct SparkConnectProfile {
    /// `host`: the `sc://host:port[/;param=value…]` URL.
    pub url: String,
    /// `token`: a bearer token (also accepted as the URL's `;token=`). Never logged.
    pub token: Option<String>,
    /// `datalake_formats`: the lakehouse formats the server writes (delta, iceberg).
    pub datalake_formats: Vec<DatalakeFormat>,
    /// `location`: where schemas are created (`<location>/<schema>`), any URI the server's file systems know.
    pub location: Option<String>,
    /// `conf`: Spark settings for the session (`k=v --conf k2=v2`), set when it opens.
    pub conf: Vec<(String, String)>,
    /// `catalog: glue`: the server's catalog is the Glue Data Catalog (EMR, Sail, Spark with the Glue client), so
    /// relations are listed and tables switched through the Glue API (the profile's region, `catalog_id`, the SDK's
    /// credential chain), as on Glue sessions. Without it relations are listed through Spark's catalog, no AWS.
    pub glue_catalog: Option<GlueProfile>,
    /// Where the output was read from (set by the caller), for messages that say what to change there.
    pub origin: Option<crate::profile::ProfileOrigin>,
}

impl std::fmt::Debug for SparkConnectProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparkConnectProfile")
            .field("url", &shown_connect_url(&self.url))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("datalake_formats", &self.datalake_formats)
            .field("location", &self.location)
            .field("glue_catalog", &self.glue_catalog.is_some())
            .finish_non_exhaustive()
    }
}

impl SparkConnectProfile {
    /// Reads a rendered `method: spark_connect` output.
    pub fn from_output(output: &Map<String, Value>) -> Result<SparkConnectProfile, ProfileError> {
        let out = Output::new(output, SPARK_CONNECT_PROFILE_KEYS);
        let url = text(&out, "host")?
            .ok_or_else(|| ProfileError::new("host", "is required with `method: spark_connect` (sc://host:port)"))?;
        if !url.starts_with("sc://") {
            return Err(ProfileError::new(
                "host",
                format!(
                    "`{}` is not a Spark Connect URL (sc://host:port)",
                    shown_connect_url(&url)
                ),
            ));
        }
        let token = text(&out, "token")?;
        connect_url(&url, token.as_deref()).map_err(|m| ProfileError::new("host", m))?;
        Ok(SparkConnectProfile {
            url,
            token,
            datalake_formats: datalake_formats(text(&out, "datalake_formats")?)?,
            location: text(&out, "location")?,
            conf: spark_conf(text(&out, "conf")?.as_deref().unwrap_or(""))?,
            glue_catalog: match text(&out, "catalog")?.as_deref() {
                None | Some("spark") => None,
                Some("glue") => Some(GlueProfile::from_output(output)?.0),
                Some(other) => {
                    return Err(ProfileError::new(
                        "catalog",
                        format!("`{other}`: expected spark (the server's own catalog) or glue"),
                    ));
                }
            },
            origin: None,
        })
    }
}

/// The `token` values of a Spark Connect URL's parameters (`sc://host:port/;token=…`).
fn url_tokens(url: &str) -> Vec<&str> {
    url.split(';')
        .skip(1)
        .filter_map(|p| p.split_once('=').filter(|(k, _)| k.trim() == "token").map(|(_, v)| v))
        .filter(|v| !v.is_empty())
        .collect()
}

/// A Spark Connect URL as it may be shown: its `token` parameters masked.
pub(crate) fn shown_connect_url(url: &str) -> String {
    url.split(';')
        .enumerate()
        .map(|(i, p)| match p.split_once('=') {
            Some((k, _)) if i > 0 && k.trim() == "token" => format!("{k}=****"),
            _ if i > 0 && p.trim_start().starts_with("token") => "token****".to_string(),
            _ => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// `text` (a message about `url`) without the URL's tokens or `token`.
fn without_tokens(text: &str, url: &str, token: Option<&str>) -> String {
    let mut out = text.replace(url, &shown_connect_url(url));
    for raw in url.split(';').skip(1).filter(|p| p.trim_start().starts_with("token")) {
        out = out.replace(raw, "token=****");
    }
    for t in url_tokens(url).into_iter().chain(token).filter(|t| !t.is_empty()) {
        out = out.replace(t, "****");
    }
    out
}

/// Parses a Spark Connect URL (with the `token` given beside it, if any) as the client will, before anything
/// connects. The error never shows a token, and a token never goes in plaintext to a host that is not loopback:
/// glue-rs turns TLS on for it, so a URL that turns TLS off explicitly (`use_ssl=false`) with a token is refused.
pub(crate) fn connect_url(url: &str, token: Option<&str>) -> Result<ChannelBuilder, String> {
    let b = ChannelBuilder::parse(url).map_err(|e| {
        format!(
            "`{}` is not a Spark Connect URL (sc://host:port[/;param=value…]): {}",
            shown_connect_url(url),
            without_tokens(&e.get_message(), url, token)
        )
    })?;
    let has_token = token.is_some_and(|t| !t.is_empty()) || b.token().is_some();
    if let Some(ssl) = b.get("use_ssl")
        && has_token
        && !b.is_loopback()
        && !ssl.eq_ignore_ascii_case("true")
    {
        return Err(format!(
            "`{}` sets use_ssl={ssl}, but a token is sent to `{}` only over TLS (plaintext only to localhost, \
             127.0.0.1 or [::1]): remove use_ssl={ssl} (glue-rs uses TLS whenever a token goes to another host)",
            shown_connect_url(url),
            b.host()
        ));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spark_connect_targets_need_an_sc_url_and_hide_their_token() {
        let out = json!({"host": "sc://spark:15002", "token": "s3cret", "datalake_formats": "delta,iceberg",
                         "conf": "spark.a=1 --conf spark.b=2", "location": "s3://w/h"});
        let p = SparkConnectProfile::from_output(out.as_object().unwrap()).unwrap();
        assert_eq!(p.datalake_formats, vec![DatalakeFormat::Delta, DatalakeFormat::Iceberg]);
        assert_eq!(
            p.conf,
            vec![("spark.a".into(), "1".into()), ("spark.b".into(), "2".into())]
        );
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(p.glue_catalog.is_none());
        let glue = json!({"host": "sc://sail:50051", "catalog": "glue", "region": "eu-west-1"});
        let p = SparkConnectProfile::from_output(glue.as_object().unwrap()).unwrap();
        assert_eq!(p.glue_catalog.unwrap().region.as_deref(), Some("eu-west-1"));
        for (bad, field) in [
            (json!({}), "host"),
            (json!({"host": "http://spark:15002"}), "host"),
            (
                json!({"host": "sc://s", "datalake_formats": "paimon"}),
                "datalake_formats",
            ),
        ] {
            assert_eq!(
                SparkConnectProfile::from_output(bad.as_object().unwrap())
                    .unwrap_err()
                    .field,
                field
            );
        }
    }

    #[test]
    fn a_token_never_goes_in_plaintext_to_a_remote_host() {
        let sc = |v: Value| SparkConnectProfile::from_output(v.as_object().unwrap());
        for refused in [
            json!({"host": "sc://spark.internal:15002/;use_ssl=false", "token": "t0k-secret"}),
            json!({"host": "sc://spark.internal:15002/;use_ssl=false;token=t0k-secret"}),
            json!({"host": "sc://10.0.0.7:15002/;token=t0k-secret;use_ssl=no"}),
        ] {
            let err = sc(refused.clone()).unwrap_err();
            assert_eq!(err.field, "host", "{refused}: {err}");
            assert!(err.to_string().contains("TLS"), "{err}");
            assert!(!err.to_string().contains("t0k-secret"), "{err}");
        }
        for accepted in [
            json!({"host": "sc://spark.internal:15002", "token": "t0k-secret"}),
            json!({"host": "sc://spark.internal:15002/;use_ssl=true;token=t0k-secret"}),
            json!({"host": "sc://localhost:15002/;use_ssl=false", "token": "t0k-secret"}),
            json!({"host": "sc://127.0.0.1:15002/;token=t0k-secret"}),
            json!({"host": "sc://spark.internal:15002/;use_ssl=false"}),
        ] {
            assert!(sc(accepted.clone()).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn a_malformed_spark_connect_url_is_refused_without_its_token() {
        for url in [
            "sc://:15002/;token=t0k-secret",
            "sc://spark:notaport/;token=t0k-secret",
            "sc://spark:15002/;token=t0k-secret;user_id",
            "sc://spark:15002/;token=t0k=secret",
            "sc://spark:15002/path;token=t0k-secret",
            "sc://[::1/;token=t0k-secret",
        ] {
            let err = SparkConnectProfile::from_output(json!({"host": url}).as_object().unwrap()).unwrap_err();
            assert_eq!(err.field, "host", "{url}: {err}");
            let shown = err.to_string();
            assert!(!shown.contains("t0k") && !shown.contains("secret"), "{url}: {shown}");
        }
    }
}
