//! The client of the test world's Glue simulator (xtask/sim/gluesim). `cargo xtask it` passes its endpoint
//! (`GLUE_SIM_ENDPOINT`, also `AWS_ENDPOINT_URL` for the SDK clients), credentials, region and storage root
//! (`GLUE_RS_STORAGE_ROOT`); `cargo xtask up` prints them. The admin API is spoken as HTTP/1.0 over a `TcpStream`.
//!
//! The simulator is shared by every test using it: faults and timings are global, so a test that sets them holds a
//! [`Restore`] that undoes them when it ends, also when it fails.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde_json::Value;

/// The simulator's default timings (`Config` in xtask/sim/gluesim/server.py), as [`Restore::CONFIG`] puts them back.
pub const CONFIG_DEFAULTS: &str = r#"{"page_size": 2, "provisioning_delay_s": 0.5, "stopping_delay_s": 0.2, "seconds_per_idle_minute": 60, "token_ttl_s": 3600.0, "invalidate_caches_on_write": true}"#;

/// The variable `cargo xtask it` sets, or a panic saying so.
fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run these tests through `cargo xtask it`"))
}

/// The simulator's endpoint (`GLUE_SIM_ENDPOINT`, `http://host:port`, no trailing `/`).
pub fn endpoint() -> String {
    required("GLUE_SIM_ENDPOINT").trim_end_matches('/').to_string()
}

/// [`endpoint`], and `AWS_ENDPOINT_URL` checked too: without it the SDK's own clients would call AWS itself.
pub fn endpoint_for_sdk() -> String {
    let endpoint = endpoint();
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: the clients would call AWS itself (run these tests through `cargo xtask it`)"
    );
    endpoint
}

/// Where the simulator's S3 keeps its objects on disk (`GLUE_RS_STORAGE_ROOT`).
pub fn storage_root() -> PathBuf {
    PathBuf::from(required("GLUE_RS_STORAGE_ROOT"))
}

/// `prefix`, `separator`, then 12 random hex digits: unique across the processes sharing the simulator.
pub fn unique(prefix: &str, separator: &str) -> String {
    format!(
        "{prefix}{separator}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// One call to the admin API (`METHOD /_sim/<path>` with a JSON `body`): its HTTP status and JSON answer (`Null`
/// when the answer is not JSON). `Err` when the simulator cannot be reached.
pub fn try_admin(method: &str, path: &str, body: &str) -> Result<(u16, Value), String> {
    let endpoint = std::env::var("GLUE_SIM_ENDPOINT").map_err(|_| "GLUE_SIM_ENDPOINT is not set".to_string())?;
    let authority = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(authority).map_err(|e| format!("{authority}: {e}"))?;
    let request = format!(
        "{method} /_sim/{path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    let (head, json) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, serde_json::from_str(json).unwrap_or(Value::Null)))
}

/// One call to the admin API that must answer 200: its JSON answer. Panics otherwise, naming the call.
pub fn admin(method: &str, path: &str, body: &str) -> Value {
    match try_admin(method, path, body) {
        Ok((200, v)) => v,
        Ok((status, v)) => panic!("{method} /_sim/{path}: HTTP {status}: {v}"),
        Err(e) => panic!("the simulator's admin API: {e}"),
    }
}

/// The request log after sequence number `since` (entries: `seq`, `service`, `operation`, `session_id`, `status`,
/// ...).
pub fn log(since: u64) -> Vec<Value> {
    admin("GET", &format!("log?since={since}"), "")["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The log's last sequence number now: what a later `log(last_seq())` returns came after this call.
pub fn last_seq() -> u64 {
    log(0).iter().filter_map(|e| e["seq"].as_u64()).max().unwrap_or(0)
}

/// Sets the simulator's faults (`{"throttle": {"glue:GetSession": 0.2}, "latency_ms": {...}, "hold": ..., "seed":
/// n}`), replacing those set before. Hold a [`Restore::FAULTS`] to clear them when the test ends.
pub fn set_faults(faults: &str) {
    admin("POST", "faults", faults);
}

/// Clears every fault.
pub fn clear_faults() {
    admin("DELETE", "faults", "");
}

/// Sets some of the simulator's timings (`{"provisioning_delay_s": 5}`); hold a [`Restore::CONFIG`] to put the
/// defaults back when the test ends.
pub fn set_config(config: &str) {
    admin("POST", "config", config);
}

/// Undoes what a test set on the simulator (global for everyone using it) when dropped, also when the test panics:
/// clears the faults, puts the default timings back ([`CONFIG_DEFAULTS`]). A failure to restore is printed, never a
/// second panic.
#[must_use = "the simulator is restored when this is dropped"]
pub struct Restore {
    faults: bool,
    config: bool,
}

impl Restore {
    /// Clears the faults.
    pub const FAULTS: Restore = Restore {
        faults: true,
        config: false,
    };
    /// Puts the default timings back.
    pub const CONFIG: Restore = Restore {
        faults: false,
        config: true,
    };
}

impl Drop for Restore {
    fn drop(&mut self) {
        let undo = [
            (self.faults, "DELETE", "faults", ""),
            (self.config, "POST", "config", CONFIG_DEFAULTS),
        ];
        for (_, method, path, body) in undo.into_iter().filter(|u| u.0) {
            match try_admin(method, path, body) {
                Ok((200, _)) => {}
                Ok((status, v)) => {
                    eprintln!("could not restore the simulator: {method} /_sim/{path}: HTTP {status}: {v}")
                }
                Err(e) => eprintln!("could not restore the simulator: {e}"),
            }
        }
    }
}
