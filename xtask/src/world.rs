//! The test world: the Glue simulator (moto + our extensions, with its own PySpark 3.5), a real Spark Connect server
//! (pyspark 4.0's bundled server) and Sail with its Glue catalog and S3 on the simulator.
//!
//! Every service binds 127.0.0.1 on a free port, runs in its own process group (so its JVM or children go with it), logs
//! to `<world dir>/<service>.log`, and is health-checked before `up` returns. The world is described in
//! `<world dir>/world.json` (endpoints, process groups, logs), which `down` and the test suites read. A service that
//! does not come up fails `up` with the tail of its log, after stopping the services already started.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{cache, root, venv};

/// Set while `up` starts services (the signal handler then only raises `INTERRUPTED`).
pub static STARTING: AtomicBool = AtomicBool::new(false);
/// Raised by Ctrl-C / SIGTERM during `up`: every wait loop fails with "interrupted".
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn check_interrupted() -> Result<(), String> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// A service of the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// The Glue simulator (AWS endpoint).
    Sim,
    /// The pyspark 4.0 Spark Connect server.
    Spark,
    /// Sail (Spark Connect) on the simulator's Glue catalog and S3.
    Sail,
}

impl ServiceKind {
    pub fn all() -> Vec<ServiceKind> {
        vec![ServiceKind::Sim, ServiceKind::Spark, ServiceKind::Sail]
    }

    fn name(self) -> &'static str {
        match self {
            ServiceKind::Sim => "sim",
            ServiceKind::Spark => "spark",
            ServiceKind::Sail => "sail",
        }
    }
}

/// One running service.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Service {
    pub kind: ServiceKind,
    /// Process group id (the leader's pid).
    pub pgid: u32,
    pub endpoint: String,
    pub log: PathBuf,
}

/// `world.json`: what is running.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct World {
    pub dir: PathBuf,
    pub services: Vec<Service>,
    /// Endpoints by name (`aws`, `spark_connect`, `sail`), and the simulator's storage root.
    pub endpoints: BTreeMap<String, String>,
}

/// The world directory: `GLUE_RS_WORLD_DIR` or `~/.cache/glue-rs/world`.
pub fn world_dir() -> PathBuf {
    std::env::var_os("GLUE_RS_WORLD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("world"))
}

impl World {
    fn file(dir: &Path) -> PathBuf {
        dir.join("world.json")
    }

    /// The world described in `dir`, if one is recorded there.
    pub fn load(dir: &Path) -> Option<World> {
        let text = std::fs::read_to_string(Self::file(dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn save(&self) -> Result<(), String> {
        let file = Self::file(&self.dir);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// Starts the given services (the simulator always, since the others use it) and waits until each is healthy.
    pub fn up(dir: &Path, kinds: &[ServiceKind], sim_args: &[String]) -> Result<World, String> {
        if let Some(old) = World::load(dir)
            && old.services.iter().any(|s| group_has_live_process(s.pgid))
        {
            return Err(format!(
                "a test world is already running (see {}); run `cargo xtask down` first",
                World::file(dir).display()
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut world = World {
            dir: dir.to_path_buf(),
            ..World::default()
        };
        STARTING.store(true, Ordering::SeqCst);
        let started = world.start_all(kinds, sim_args).and_then(|()| world.save());
        STARTING.store(false, Ordering::SeqCst);
        if let Err(e) = started {
            world.down();
            return Err(e);
        }
        Ok(world)
    }

    fn start_all(&mut self, kinds: &[ServiceKind], sim_args: &[String]) -> Result<(), String> {
        let want = |k| kinds.contains(&k);
        // Tool sets are installed first, so that the start-up deadline measures only the services.
        venv::ensure("spark35")?;
        if want(ServiceKind::Spark) || want(ServiceKind::Sail) {
            venv::ensure("spark4")?;
        }
        check_interrupted()?;
        let deadline = Instant::now() + Duration::from_secs(300);
        // The simulator first: the Spark Connect server uses its catalog (a Hive metastore over thrift) and storage,
        // and Sail its Glue and S3 endpoints.
        let spark_port = free_port()?;
        let metastore_port = free_port()?;
        let spark_url = want(ServiceKind::Spark).then(|| format!("sc://127.0.0.1:{spark_port}"));
        let mut args = sim_args.to_vec();
        if want(ServiceKind::Spark) {
            args.extend(["--metastore-port".to_string(), metastore_port.to_string()]);
        }
        self.start_sim(spark_url.as_deref(), &args, deadline)?;
        let sim = self.services[0].clone();
        self.wait_healthy(&sim, deadline)?;
        if want(ServiceKind::Spark) {
            self.start_spark(spark_port, metastore_port)?;
        }
        if want(ServiceKind::Sail) {
            self.start_sail(deadline)?;
        }
        for service in &self.services[1..] {
            self.wait_healthy(service, deadline)?;
        }
        Ok(())
    }

    fn spawn(&mut self, kind: ServiceKind, mut cmd: Command, endpoint: String) -> Result<Service, String> {
        check_interrupted()?;
        use std::os::unix::process::CommandExt;
        let log = self.dir.join(format!("{}.log", kind.name()));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {cmd:?}: {e}", kind.name()))?;
        let service = Service {
            kind,
            pgid: child.id(),
            endpoint,
            log,
        };
        self.services.push(service.clone());
        // Recorded at once, so that an interrupted `up` (Ctrl-C, SIGTERM) stops it too.
        self.save()?;
        Ok(service)
    }

    fn start_sim(&mut self, spark_url: Option<&str>, extra: &[String], deadline: Instant) -> Result<(), String> {
        let bin = venv::ensure("spark35")?;
        let state = self.dir.join("sim");
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).map_err(|e| e.to_string())?;
        let ready = state.join("ready.json");
        let mut cmd = Command::new(bin.join("python"));
        cmd.args(["-m", "gluesim", "--state-dir"])
            .arg(&state)
            .arg("--ready-file")
            .arg(&ready)
            .args(extra)
            .current_dir(root().join("xtask/sim"))
            .env("SPARK_LOCAL_IP", "127.0.0.1");
        if let Some(url) = spark_url {
            cmd.args(["--spark-connect", url]);
        }
        let service = self.spawn(ServiceKind::Sim, cmd, String::new())?;
        // The port is known as soon as the HTTP server listens (its Spark comes up behind it).
        let text = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                break text;
            }
            check_interrupted()?;
            if !group_has_live_process(service.pgid) || Instant::now() > deadline {
                return Err(failure(&service, "exited before listening"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let ready: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let endpoint = ready["endpoint"].as_str().unwrap_or_default().to_string();
        self.services.last_mut().expect("just spawned").endpoint = endpoint.clone();
        self.endpoints.insert("aws".into(), endpoint);
        self.endpoints
            .insert("storage_root".into(), state.join("s3").display().to_string());
        Ok(())
    }

    fn start_spark(&mut self, port: u16, metastore_port: u16) -> Result<(), String> {
        let bin = venv::ensure("spark4")?;
        let home = self.dir.join("spark");
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        // The simulator's Hadoop file system for s3:// (built by the simulator at start) and its storage root.
        let jars = self.dir.join("sim/spark/jars");
        let shim = std::fs::read_dir(&jars)
            .map_err(|e| format!("{}: {e}", jars.display()))?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("gluesim-shim-"))
            })
            .ok_or_else(|| format!("no gluesim-shim jar in {}", jars.display()))?;
        let mut conf: Vec<(String, String)> = vec![
            ("spark.connect.grpc.binding.address".into(), "127.0.0.1".into()),
            ("spark.connect.grpc.binding.port".into(), port.to_string()),
            ("spark.driver.host".into(), "127.0.0.1".into()),
            ("spark.driver.bindAddress".into(), "127.0.0.1".into()),
            ("spark.ui.enabled".into(), "false".into()),
            // As Glue 4/5 run: ANSI off. Partition overwrite stays Spark's default (static): glue-rs's
            // insert_overwrite sets dynamic for its own statement.
            ("spark.sql.ansi.enabled".into(), "false".into()),
            ("spark.sql.shuffle.partitions".into(), "2".into()),
            (
                "spark.driver.extraJavaOptions".into(),
                format!("-Dderby.system.home={}", home.display()),
            ),
            // One catalog and one storage with the simulator.
            ("spark.sql.catalogImplementation".into(), "hive".into()),
            (
                "spark.hadoop.hive.metastore.uris".into(),
                format!("thrift://127.0.0.1:{metastore_port}"),
            ),
            (
                "spark.sql.warehouse.dir".into(),
                "s3://glue-sim-warehouse/warehouse".into(),
            ),
            (
                "spark.hadoop.fs.gluesim.root".into(),
                self.endpoints["storage_root"].clone(),
            ),
        ];
        for scheme in ["s3", "s3a", "s3n"] {
            conf.push((
                format!("spark.hadoop.fs.{scheme}.impl"),
                "dev.gluers.sim.LocalS3FileSystem".into(),
            ));
            conf.push((format!("spark.hadoop.fs.{scheme}.impl.disable.cache"), "true".into()));
        }
        let mut cmd = Command::new(bin.join("spark-submit"));
        cmd.args([
            "--master",
            "local[2]",
            "--class",
            "org.apache.spark.sql.connect.service.SparkConnectServer",
        ])
        .arg("--jars")
        .arg(&shim);
        for (key, value) in conf {
            cmd.arg("--conf").arg(format!("{key}={value}"));
        }
        // spark-submit finds SPARK_HOME (the pyspark package) with this interpreter.
        cmd.current_dir(&home)
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .env("PYSPARK_PYTHON", bin.join("python"));
        let endpoint = format!("sc://127.0.0.1:{port}");
        self.spawn(ServiceKind::Spark, cmd, endpoint.clone())?;
        self.endpoints.insert("spark_connect".into(), endpoint);
        Ok(())
    }
    fn start_sail(&mut self, deadline: Instant) -> Result<(), String> {
        let bin = venv::ensure("spark4")?;
        let aws = self.endpoints["aws"].clone();
        // Sail writes Delta/Iceberg data under s3://sail-warehouse/ on the simulator: the bucket must exist first.
        http(&aws, "PUT", "/sail-warehouse", deadline)?;
        let port = free_port()?;
        let home = self.dir.join("sail");
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin.join("sail"));
        cmd.args(["spark", "server", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(&home)
            .env(
                "SAIL_CATALOG__LIST",
                format!(r#"[{{type="glue", name="sail", region="us-east-1", endpoint_url="{aws}"}}]"#),
            )
            .env("SAIL_CATALOG__DEFAULT_CATALOG", "sail")
            .env("AWS_ENDPOINT_URL", &aws)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true");
        let endpoint = format!("sc://127.0.0.1:{port}");
        self.spawn(ServiceKind::Sail, cmd, endpoint.clone())?;
        self.endpoints.insert("sail".into(), endpoint);
        Ok(())
    }

    fn wait_healthy(&self, service: &Service, deadline: Instant) -> Result<(), String> {
        loop {
            check_interrupted()?;
            if !group_has_live_process(service.pgid) {
                return Err(failure(service, "exited"));
            }
            let healthy = match service.kind {
                ServiceKind::Sim => match http(&service.endpoint, "GET", "/_sim/health", deadline) {
                    Ok(200) => true,
                    Ok(_) => false,
                    Err(e) => return Err(failure(service, &e)),
                },
                ServiceKind::Spark | ServiceKind::Sail => {
                    let port = service.endpoint.rsplit(':').next().unwrap_or_default();
                    TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap_or(0))).is_ok()
                        && spark_select_one(&service.endpoint)?
                }
            };
            if healthy {
                eprintln!("xtask: {} is up at {}", service.kind.name(), service.endpoint);
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(failure(service, "did not become healthy in time"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops every service by process group (TERM, then KILL after 20 s) and forgets the world.
    pub fn down(&self) {
        for service in self.services.iter().rev() {
            stop_group(service.pgid);
        }
        let _ = std::fs::remove_file(World::file(&self.dir));
    }

    /// Process groups of the world that still have a live process.
    pub fn survivors(&self) -> Vec<u32> {
        self.services
            .iter()
            .map(|s| s.pgid)
            .filter(|p| group_has_live_process(*p))
            .collect()
    }

    /// The environment the suites read: `GLUE_SIM_ENDPOINT`, `GLUE_RS_SPARK_CONNECT`, `GLUE_RS_SAIL`,
    /// `GLUE_RS_STORAGE_ROOT`, and AWS credentials and region for the simulator.
    pub fn env(&self) -> Vec<(String, String)> {
        let names = [
            ("aws", "GLUE_SIM_ENDPOINT"),
            ("spark_connect", "GLUE_RS_SPARK_CONNECT"),
            ("sail", "GLUE_RS_SAIL"),
            ("storage_root", "GLUE_RS_STORAGE_ROOT"),
        ];
        let mut env: Vec<(String, String)> = names
            .iter()
            .filter_map(|(k, var)| self.endpoints.get(*k).map(|v| (var.to_string(), v.clone())))
            .collect();
        // The simulator accepts any credentials; clients find these through the SDK's environment provider.
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ] {
            env.push((k.into(), v.into()));
        }
        env
    }
}

fn stop_group(pgid: u32) {
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(20);
    while group_has_live_process(pgid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if group_has_live_process(pgid) {
        signal("-KILL");
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_has_live_process(pgid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Live (non-zombie) processes of a group, from /proc.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = vec![];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string() {
            out.push(pid);
        }
    }
    out
}

/// Whether any process of the group is alive (zombies do not count: the services are never waited on).
fn group_has_live_process(pgid: u32) -> bool {
    !group_members(pgid).is_empty()
}

fn failure(service: &Service, what: &str) -> String {
    let tail = std::fs::read_to_string(&service.log)
        .map(|t| {
            let lines: Vec<&str> = t.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        })
        .unwrap_or_default();
    format!(
        "{} {what}; last lines of {}:\n{tail}",
        service.kind.name(),
        service.log.display()
    )
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// A bare HTTP/1.0 request to the simulator (admin and bucket creation need no signature); returns the status code.
pub fn http(endpoint: &str, method: &str, path: &str, deadline: Instant) -> Result<u16, String> {
    let authority = endpoint.trim_start_matches("http://");
    loop {
        match TcpStream::connect(authority) {
            Ok(mut stream) => {
                stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
                let request = format!("{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n");
                stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
                let mut response = String::new();
                stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
                let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok());
                return status.ok_or_else(|| format!("{method} {path}: malformed response {response:.200}"));
            }
            Err(e) if Instant::now() > deadline || INTERRUPTED.load(Ordering::SeqCst) => {
                return Err(format!("{endpoint}: {e}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// `select 1` through pyspark's Spark Connect client (the reference client).
fn spark_select_one(url: &str) -> Result<bool, String> {
    let bin = venv::ensure("spark4")?;
    let script = "import sys\nfrom pyspark.sql import SparkSession\n\
                  s = SparkSession.builder.remote(sys.argv[1]).getOrCreate()\n\
                  assert s.sql('select 1 as one').collect()[0].one == 1\n";
    let out = Command::new(bin.join("python"))
        .args(["-c", script, url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    Ok(out.success())
}
