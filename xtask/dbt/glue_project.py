"""A dbt project in a temporary directory, run with `glue` on the embedded engine: the helper the dbt suite runners
(adapter_suites.py, utils_suites.py) share.

Set `Project.binary` to the glue binary before making one.
"""

import json
import os
import shutil
import subprocess
import tempfile

SCHEMA = "test_schema"


class Project:
    binary = None

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
        """A node command; returns run_results.json's results."""
        self.glue(*args, expect_pass=expect_pass)
        with open(os.path.join(self.dir, "target", "run_results.json")) as f:
            return json.load(f)["results"]

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
