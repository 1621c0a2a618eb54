"""The Spark side of the simulator's S3 storage (a test stand-in for S3): builds the jar of LocalS3FileSystem, the
Hadoop file system that keeps s3://BUCKET/KEY in the local file <root>/BUCKET/KEY, and gives the Spark settings that
install it for the s3, s3a and s3n schemes. The S3 REST API of gluesim/s3.py serves the same <root>."""

import hashlib
import os
import shutil
import subprocess
import tempfile

SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "java", "dev", "gluers", "sim", "LocalS3FileSystem.java")
FILE_SYSTEM_CLASS = "dev.gluers.sim.LocalS3FileSystem"
SCHEMES = ("s3", "s3a", "s3n")


def _java_tool(name: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    found = shutil.which(name) or (java_home and shutil.which(os.path.join(java_home, "bin", name)))
    if not found:
        raise RuntimeError(f"`{name}` (from a JDK) is needed to build the S3 shim jar but is not on PATH or in JAVA_HOME")
    return found


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the S3 shim jar failed: {' '.join(command)}\n{done.stdout}{done.stderr}")


def shim_jar(cache_dir: str) -> str:
    """The path of the shim jar in `cache_dir`, compiled from SOURCE unless a jar of the same source is there."""
    with open(SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    jar = os.path.join(cache_dir, f"gluesim-shim-{digest}.jar")
    if os.path.exists(jar):
        return jar
    import pyspark  # imported here: only building the jar needs Spark's Hadoop jars

    classpath = os.path.join(os.path.dirname(pyspark.__file__), "jars", "*")
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gluesim-shim-", dir=cache_dir) as build:
        classes = os.path.join(build, "classes")
        staged = os.path.join(build, "shim.jar")
        _run([_java_tool("javac"), "--release", "8", "-nowarn", "-cp", classpath, "-d", classes, SOURCE])
        _run([_java_tool("jar"), "cf", staged, "-C", classes, "."])
        os.replace(staged, jar)
    return jar


def spark_conf(root: str) -> dict[str, str]:
    """Spark settings that serve s3://, s3a:// and s3n:// from `root` (the jar itself goes in spark.jars).

    The Hadoop file system cache is disabled for these schemes: it is keyed by scheme and bucket only, so a JVM that
    hosts one Spark session after another (as PySpark's gateway does) would otherwise keep the first session's root.
    """
    conf = {"spark.hadoop.fs.gluesim.root": os.path.abspath(root)}
    for scheme in SCHEMES:
        conf[f"spark.hadoop.fs.{scheme}.impl"] = FILE_SYSTEM_CLASS
        conf[f"spark.hadoop.fs.{scheme}.impl.disable.cache"] = "true"
    return conf
