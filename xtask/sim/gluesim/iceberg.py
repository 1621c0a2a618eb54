"""Iceberg for the simulator's Spark 3.5: the runtime jar of the pip package `snowpark-connect-deps-iceberg`, made whole.

That jar (Iceberg 1.10.2 for Spark 3.5, Scala 2.12) references Jackson at Iceberg's relocated package
`org.apache.iceberg.shaded.com.fasterxml.jackson`, but carries Jackson only under Parquet's relocation
(`org.apache.iceberg.shaded.org.apache.parquet.shaded.com.fasterxml.jackson`); table writes fail with
NoClassDefFoundError. `iceberg_jars()` adds a second jar with those same Jackson classes moved to the package Iceberg
expects: every class file's constant pool is rewritten (the package name in class names, descriptors and strings), the
rest of each class is copied byte for byte.
"""

from __future__ import annotations

import glob
import hashlib
import os
import struct
import tempfile
import zipfile

FROM = b"org/apache/iceberg/shaded/org/apache/parquet/shaded/com/fasterxml/jackson/"
TO = b"org/apache/iceberg/shaded/com/fasterxml/jackson/"


def runtime_jar() -> str:
    import snowpark_connect_deps_iceberg

    jars = os.path.join(os.path.dirname(snowpark_connect_deps_iceberg.__file__), "jars")
    found = sorted(glob.glob(os.path.join(jars, "iceberg-spark-runtime-3.5_2.12-*.jar")))
    if not found:
        raise RuntimeError(f"no iceberg-spark-runtime-3.5_2.12 jar under {jars}")
    return found[-1]


def iceberg_jars(cache_dir: str) -> list[str]:
    """The Iceberg runtime jar and the relocated-Jackson jar (built once into `cache_dir`)."""
    runtime = runtime_jar()
    stat = os.stat(runtime)
    key = hashlib.sha256(f"{runtime}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    out = os.path.join(cache_dir, f"iceberg-jackson-{key}.jar")
    if not os.path.exists(out):
        os.makedirs(cache_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".jar")
        os.close(fd)
        with zipfile.ZipFile(runtime) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                name = info.filename.encode()
                if not name.startswith(FROM) or info.is_dir():
                    continue
                data = src.read(info)
                if name.endswith(b".class"):
                    data = relocate_class(data)
                dst.writestr(name.replace(FROM, TO, 1).decode(), data)
        os.replace(tmp, out)
    return [runtime, out]


def relocate_class(data: bytes) -> bytes:
    """The class file with FROM replaced by TO in every Utf8 constant (slash and dot forms)."""
    if data[:4] != b"\xca\xfe\xba\xbe":
        raise ValueError("not a class file")
    count = struct.unpack_from(">H", data, 8)[0]
    out = bytearray(data[:10])
    pos, index = 10, 1
    dotted_from, dotted_to = FROM.replace(b"/", b"."), TO.replace(b"/", b".")
    while index < count:
        tag = data[pos]
        if tag == 1:  # Utf8
            length = struct.unpack_from(">H", data, pos + 1)[0]
            text = data[pos + 3 : pos + 3 + length].replace(FROM, TO).replace(dotted_from, dotted_to)
            out += bytes([1]) + struct.pack(">H", len(text)) + text
            pos += 3 + length
        else:
            size = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 16: 2, 19: 2, 20: 2, 9: 4, 10: 4, 11: 4, 12: 4, 17: 4, 18: 4, 15: 3}.get(tag)
            if size is None:
                raise ValueError(f"unknown constant pool tag {tag}")
            out += data[pos : pos + 1 + size]
            pos += 1 + size
            if tag in (5, 6):  # long and double take two slots
                index += 1
        index += 1
    out += data[pos:]
    return bytes(out)
