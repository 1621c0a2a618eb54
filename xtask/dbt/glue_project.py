"""A dbt project in a temporary directory, run with `glue` on the embedded engine: the helper the dbt suite runners
(adapter_suites.py, utils_suites.py) share.

Set `Project.binary` to the glue binary before making one.

Every node command (`run`, `build`, `seed`, `snapshot`) is planned first with `glue plan` and the same selection, and
each node it built must have run exactly the steps the plan printed (`target/run/`): `glue plan` promises what a run
sends, checked on every project of dbt's suites.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile

SCHEMA = "test_schema"


PLAN_ARGS = {"-s", "--select", "-m", "--models", "--exclude", "--selector", "--vars", "--target", "--state"}


def plan_args(args):
    """The `glue plan` that selects and configures what `glue <args>` builds, or None when the command builds
    nothing (`test`) or takes an argument that changes what runs (`--empty`)."""
    if not args or args[0] not in ("run", "build", "seed", "snapshot"):
        return None
    out, rest = ["plan"], list(args[1:])
    # What the command builds: `run` models, `seed` seeds, `snapshot` snapshots (`build` all three).
    kind = {"run": "model", "seed": "seed", "snapshot": "snapshot"}.get(args[0])
    selects = [a for a in ("-s", "--select", "-m", "--models") if a in rest]
    if kind and not selects:
        out += ["--select", f"resource_type:{kind}"]
    elif kind:
        i = rest.index(selects[0])
        rest[i + 1] = ",".join([rest[i + 1], f"resource_type:{kind}"]) if " " not in rest[i + 1] else None
        if rest[i + 1] is None:
            return None
    while rest:
        a = rest.pop(0)
        if a == "--full-refresh":
            out.append(a)
        elif a in PLAN_ARGS and rest:
            out += [a, rest.pop(0)]
        elif a == "--threads" and rest:
            rest.pop(0)
        else:
            return None
    return out


def planned(stdout):
    """`glue plan`'s output as {unique_id: the steps' text}."""
    out, current = {}, None
    for line in stdout.splitlines():
        if line.startswith("-- ===== "):
            current = line[len("-- ===== "):].split()[0]
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RUN_TAG = re.compile(r"(__dbt_swap_|__run_)[0-9a-z]{1,12}\b")


def without_invocation_id(text):
    """A plan's text with the invocation's id (it names a table's new version) as a placeholder."""
    # The run's staging and temporary relations are named after it too (`<alias>__dbt_swap_<run tag>`,
    # `<alias>_tmp__run_<run tag>`).
    return RUN_TAG.sub(r"\1<run>", UUID.sub("<invocation-id>", text.rstrip()))


class Project:
    binary = None
    # How many nodes' plans were held against what ran (the suite runners print it).
    plans_checked = 0

    def __init__(self, name, models=None, seeds=None, tests=None, snapshots=None, project_extra=None, macros=None,
                 analyses=None):
        self.dir = tempfile.mkdtemp(prefix=f"glue_suite_{name}_")
        project = {"name": name, "profile": "test", "config-version": 2}
        project.update(project_extra or {})
        # YAML is a superset of JSON.
        self.write("dbt_project.yml", json.dumps(project, indent=2))
        self.write(
            "profiles.yml",
            json.dumps({"test": {"target": "dev", "outputs": {"dev": {
                "type": "glue", "engine": "local", "warehouse": "warehouse", "schema": SCHEMA, "threads": 4}}}}),
        )
        for folder, content in (("models", models), ("seeds", seeds), ("tests", tests), ("snapshots", snapshots),
                                ("macros", macros), ("analyses", analyses)):
            self.write_tree(folder, content or {})

    def write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def write_tree(self, folder, files):
        """Files by name; a dict value is a subfolder (as dbt's test fixtures nest them); YAML given as data is
        written as JSON."""
        for fname, content in files.items():
            rel = os.path.join(folder, fname)
            if isinstance(content, dict) and not fname.endswith((".yml", ".yaml")):
                self.write_tree(rel, content)
            else:
                self.write(rel, content if isinstance(content, str) else json.dumps(content))

    def glue(self, *args, expect_pass=True):
        env = dict(os.environ, DBT_ENV_CUSTOM_ENV_env_key="env_value")
        proc = subprocess.run([self.binary, *args, "--project-dir", self.dir], capture_output=True, text=True, env=env)
        if expect_pass and proc.returncode != 0:
            raise AssertionError(f"glue {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        if proc.returncode not in (0, 1):
            raise AssertionError(f"glue {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run(self, *args, expect_pass=True):
        """A node command; returns run_results.json's results. What it built is held against `glue plan`."""
        plan = plan_args(args)
        # A node that cannot be planned fails its run too: the plan's exit code is not the check, its steps are.
        planned_steps = planned(self.glue(*plan, expect_pass=False).stdout) if plan else None
        shutil.rmtree(os.path.join(self.dir, "target", "run"), ignore_errors=True)
        self.glue(*args, expect_pass=expect_pass)
        with open(os.path.join(self.dir, "target", "run_results.json")) as f:
            results = json.load(f)["results"]
        if planned_steps is not None:
            self.check_plan(args, planned_steps, results)
        return results

    def check_plan(self, args, planned_steps, results):
        """Each model, seed or snapshot the command ran sent the steps `glue plan` printed for it."""
        nodes = self.manifest()["nodes"]
        for r in results:
            node = nodes.get(r["unique_id"])
            if node is None or node["resource_type"] not in ("model", "seed", "snapshot"):
                continue
            path = os.path.join(self.dir, "target", "run", node["package_name"], node["original_file_path"])
            if node["resource_type"] == "snapshot":
                path = os.path.join(os.path.dirname(path), node["name"] + ".sql")
            if not os.path.exists(path):
                # It failed before its plan was made (a compile error): the plan printed nothing for it either.
                assert r["unique_id"] not in planned_steps or r["status"] == "error", f"{r['unique_id']}: no {path}"
                continue
            with open(path) as f:
                ran = f.read()
            assert r["unique_id"] in planned_steps, f"glue {' '.join(args)}: {r['unique_id']} ran but was not planned"
            assert without_invocation_id(planned_steps[r["unique_id"]]) == without_invocation_id(ran), (
                f"glue {' '.join(args)}: the plan of {r['unique_id']} differs from what ran:\n"
                f"--- plan\n{planned_steps[r['unique_id']]}\n--- ran\n{ran}"
            )
            Project.plans_checked += 1

    def rows(self, sql):
        proc = self.glue("show", "--inline", sql, "--limit", "100000", "--output", "json", "-q")
        return json.loads(proc.stdout)["show"]

    def count(self, name):
        return self.rows(f"select count(*) as n from {{{{ ref('{name}') }}}}")[0]["n"]

    def docs(self):
        self.glue("docs", "generate")
        with open(os.path.join(self.dir, "target", "catalog.json")) as f:
            return json.load(f)

    def manifest(self):
        with open(os.path.join(self.dir, "target", "manifest.json")) as f:
            return json.load(f)

    def relation_types(self, expected):
        catalog = self.docs()
        got = {}
        for node in catalog["nodes"].values():
            got[node["metadata"]["name"]] = node["metadata"]["type"]
        for name, kind in expected.items():
            assert got.get(name) == kind, f"relation {name}: expected {kind}, got {got.get(name)}"

    def equal(self, names):
        def multiset(name):
            return sorted(json.dumps(r, sort_keys=True) for r in self.rows(f"select * from {{{{ ref('{name}') }}}}"))

        first = multiset(names[0])
        assert first, f"{names[0]} is empty"
        for other in names[1:]:
            rows = multiset(other)
            assert rows == first, f"{other} differs from {names[0]}: {len(rows)} vs {len(first)} rows"

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)
