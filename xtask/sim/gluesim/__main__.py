"""`python -m gluesim --state-dir DIR [--port 0] [--ready-file F]`: runs the Glue simulator on 127.0.0.1.

Prints one JSON line `{"endpoint": ..., "port": ..., "pid": ...}` (and writes it to --ready-file) once the HTTP server
listens; `GET /_sim/health` answers 200 once the simulator's Spark is up.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from .catalog import GlueCatalog
from .lakeformation import LakeFormation
from .s3 import FileS3
from .server import Simulator
from .sessions import Sessions
from .spark import SparkRuntime
from .spark_connect import SparkConnectEndpoints


def main() -> None:
    parser = argparse.ArgumentParser(prog="gluesim")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file")
    parser.add_argument("--spark-connect", help="sc://host:port of the Spark Connect server behind SPARK_CONNECT sessions")
    parser.add_argument("--metastore-port", type=int, help="also serve the catalog as a Hive metastore (thrift) here")
    args = parser.parse_args()

    state = os.path.abspath(args.state_dir)
    storage = os.path.join(state, "s3")
    os.makedirs(storage, exist_ok=True)
    runtime = SparkRuntime(os.path.join(state, "spark"), storage)
    sim = Simulator(DomainDispatcherApplication(create_backend_app), {}, FileS3(storage))
    catalog = GlueCatalog(sim, runtime)
    endpoints = SparkConnectEndpoints(sim, args.spark_connect) if args.spark_connect else None
    sessions = Sessions(sim, runtime, endpoints.issue if endpoints else None)
    if endpoints is not None:
        endpoints.session_status = sessions.status
    sim.handlers.update(catalog.handlers())
    sim.handlers.update(sessions.handlers())
    sim.handlers.update(LakeFormation(sim, catalog).handlers())

    server = make_server("127.0.0.1", args.port, sim, threaded=True)
    port = server.socket.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    sim.endpoints = {"aws": endpoint, "storage_root": storage, **({"spark_connect": args.spark_connect} if args.spark_connect else {})}
    line = json.dumps({"endpoint": endpoint, "port": port, "pid": os.getpid()})
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write(line)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(line, flush=True)

    def start_spark() -> None:
        try:
            os.makedirs(runtime.state_dir, exist_ok=True)
            runtime.start()
            if endpoints is not None:
                endpoints.start()
            sim.endpoints["shim_jar"] = runtime.shim_jar
            if args.metastore_port:
                runtime.serve_metastore(args.metastore_port)
                sim.endpoints["metastore"] = f"thrift://127.0.0.1:{args.metastore_port}"
        except Exception:
            # Without its Spark the simulator is no stand-in for Glue: exit, so that whoever started it sees the log.
            print("the simulator's Spark failed to start:\n" + traceback.format_exc(), file=sys.stderr, flush=True)
            os._exit(3)
        sim.ready.set()

    threading.Thread(target=start_spark, name="spark-start", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if runtime.base is not None:
            runtime.base.stop()


if __name__ == "__main__":
    main()
