"""The Databricks clients' own test suites, run unchanged against the local workspace.

    python benchmarks/peer_suites.py [--connector PATH] [--sdk PATH] [--sdk-examples PATH]
        [--sqlalchemy PATH] [--report DIR] [-k EXPR]

PATH is a checkout of a public repository: databricks/databricks-sql-python (its `tests/e2e`),
databricks/databricks-sdk-py (its `tests/integration`, or its `examples/`) or
databricks/databricks-sqlalchemy (its `tests/test_local/e2e`, with the connector's details).
Not part of CI: it needs port 443
(`lakegate workspace serve --tls --port 443`, because the clients build `https://{host}` as for
a real workspace) and takes minutes. Each suite runs in a pytest process of its own with the
clients installed here, its connection details given as it reads them:

  - connector: DATABRICKS_SERVER_HOSTNAME, DATABRICKS_HTTP_PATH (a running warehouse),
    DATABRICKS_TOKEN (a personal access token of the workspace admin), DATABRICKS_CATALOG,
    DATABRICKS_SCHEMA (`main`.`default`);
  - SDK: DATABRICKS_HOST, DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET (OAuth M2M),
    CLOUD_ENV, TEST_ENVIRONMENT_TYPE (UC_WORKSPACE), TEST_METASTORE_ID,
    TEST_DEFAULT_WAREHOUSE_ID, TEST_DEFAULT_CATALOG.

The workspace's CA goes in as SSL_CERT_FILE and REQUESTS_CA_BUNDLE. A suite's test-only
dependencies (the connector's tests import pytz) are the caller's to provide, e.g.
`uv pip install --target /tmp/peerdeps pytz` and PYTHONPATH=/tmp/peerdeps. "In scope" leaves
out what the workspace does not serve (OUT_OF_SCOPE, each with its reason); the rest is
counted. It prints each suite's pass rate and the failures grouped by cause (the error's first
line), and with --report keeps each suite's JUnit XML.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx

# Test files (`test_x.py`, left out with --ignore) or test name fragments (for -k) outside what
# the local workspace serves, and why. A file is named whole: the fragment `test_workspace`
# would also drop test_workspace_conf and test_workspace_users_list_pagination.
OUT_OF_SCOPE: dict[str, dict[str, str]] = {
    "connector": {
        "test_kernel": "the Rust kernel backend is not in the installed connector",
        "test_circuit_breaker": "telemetry endpoints (client usage reporting)",
        "telemetry": "telemetry endpoints (client usage reporting)",
        "staging": "Volumes file staging (PUT/GET/REMOVE): no Volumes",
        "volume": "Unity Catalog Volumes: not served",
        "streaming_put": "Volumes file upload: not served",
        "Retry": "needs the connector's own mock retry server",
        "retry": "needs the connector's own mock retry server",
        "429": "needs the connector's own mock retry server",
        "503": "needs the connector's own mock retry server",
        "test_transactions": "multi-statement transactions (a Public Preview): not served",
    },
    "sqlalchemy": {},
    "sdk": {
        "test_files.py": "DBFS and Files API: not served",
        "test_clusters.py": "clusters: not served",
        "test_commands.py": "command execution on clusters: not served",
        "test_dbconnect.py": "Databricks Connect (Spark Connect): not served",
        "test_workspace.py": "notebooks and workspace files: not served",
        "test_repos.py": "Git folders: not served",
        "test_dbutils.py": "dbutils on a cluster: not served",
        "test_deployment.py": "account deployment provisioning: not served",
        "test_external_browser.py": "needs a browser and a person",
        "test_runtime_auth": "builds a wheel and runs it on a cluster or job cluster",
        "test_submitting_jobs": "writes a Python file to DBFS and runs it on a new cluster",
        "test_create_job": "a job cluster with a Python wheel task: clusters not served",
        "test_wif": "signs in with GitHub Actions' OIDC token (a GitHub runner's)",
        "get_workspace_client": "`a.get_workspace_client` builds https://<deployment>"
        ".cloud.databricks.com from the cloud's DNS zone, which no local name can answer for",
        "ws_client_from_ac_client": "`a.get_workspace_client`, as above",
    },
}
SUITES = {
    "connector": "tests/e2e",
    "sdk": "tests/integration",
    "sqlalchemy": "tests/test_local/e2e",
}
# The SDK's examples/workspace/<service>/*.py scripts for the services the workspace serves: each
# runs unchanged (exit status 0 passes).
EXAMPLE_SERVICES = (
    "catalogs", "current_user", "data_sources", "grants", "groups", "jobs", "permissions",
    "queries", "query_history", "schemas", "service_principals", "statement_execution",
    "tables", "token_management", "tokens", "users", "volumes", "warehouses", "workspace_conf",
)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connector", type=Path, help="a databricks-sql-python checkout")
    parser.add_argument("--sdk", type=Path, help="a databricks-sdk-py checkout")
    parser.add_argument(
        "--sqlalchemy", type=Path, help="a databricks-sqlalchemy checkout: its e2e tests"
    )
    parser.add_argument(
        "--sdk-examples", type=Path, help="a databricks-sdk-py checkout: run its examples/"
    )
    parser.add_argument("--report", type=Path, help="keep each suite's JUnit XML here")
    parser.add_argument("-k", dest="keyword", default="", help="only tests matching (pytest -k)")
    args = parser.parse_args()
    checkouts = {"connector": args.connector, "sdk": args.sdk, "sqlalchemy": args.sqlalchemy}
    if not any(checkouts.values()) and args.sdk_examples is None:
        parser.error("give --connector, --sdk, --sdk-examples or --sqlalchemy PATH (checkouts)")
    for name, path in checkouts.items():
        if path is not None and not (path / SUITES[name]).is_dir():
            parser.error(f"{path} has no {SUITES[name]}: is it a checkout of the {name}'s repo?")
    report = args.report or Path(tempfile.mkdtemp(prefix="lg-peers-"))
    report.mkdir(parents=True, exist_ok=True)
    with served_on_443() as info:
        env = suite_env(info)
        for name, path in checkouts.items():
            if path is None:
                continue
            xml = report / f"{name}.xml"
            started = time.monotonic()
            # The SDK refuses two ways to sign in at once: it gets OAuth M2M, the connector a PAT.
            own = {k: v for k, v in env.items() if not (name == "sdk" and k == "DATABRICKS_TOKEN")}
            run_suite(path, SUITES[name], OUT_OF_SCOPE[name], args.keyword, own, xml)
            summarize(name, xml, time.monotonic() - started)
            if name == "sdk":  # again as its account environment: the account API's tests
                xml, started = report / "sdk-account.xml", time.monotonic()
                account = {**own, **account_env(info)}
                run_suite(path, SUITES[name], OUT_OF_SCOPE[name], args.keyword, account, xml)
                summarize("sdk-account", xml, time.monotonic() - started)
        if args.sdk_examples is not None:
            sdk_env = {k: v for k, v in env.items() if k != "DATABRICKS_TOKEN"}
            run_examples(args.sdk_examples / "examples" / "workspace", sdk_env)
    print(f"JUnit reports: {report}")
    return 0


def run_examples(root: Path, env: dict[str, str]) -> None:
    """Each example script of the served services, unchanged, in a process of its own."""
    causes: collections.Counter[str] = collections.Counter()
    passed = ran = 0
    started = time.monotonic()
    for service in EXAMPLE_SERVICES:
        for script in sorted((root / service).glob("*.py")):
            ran += 1
            try:
                done = subprocess.run(
                    [sys.executable, str(script)], env=env, capture_output=True, text=True,
                    timeout=90, cwd=tempfile.gettempdir(), check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                causes[f"{service}: timed out after 90 s"] += 1
                continue
            if done.returncode == 0:
                passed += 1
                continue
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            causes[f"{service}: " + cause_of(last)[:110]] += 1
    rate = passed / ran if ran else 0.0
    seconds = time.monotonic() - started
    print(f"sdk-examples: {passed} passed of {ran} run ({rate:.0%}), {seconds:.0f} s")
    for cause, n in causes.most_common(60):
        print(f"  {n:4d}  {cause}")


class served_on_443:
    """`lakegate workspace serve --tls --port 443` in its own process, until it answers."""

    def __enter__(self) -> dict[str, Any]:
        self.state = Path(tempfile.mkdtemp(prefix="lg-peers-ws-"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lakegate", "workspace", "serve", "--tls", "--port", "443",
             "--state-dir", str(self.state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        creds = self.state / "credentials.json"
        while True:
            if self.proc.poll() is not None:
                error = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise SystemExit(f"the workspace did not start on port 443: {error[-400:]}")
            if time.monotonic() > deadline:
                self.__exit__()
                raise SystemExit("the workspace did not answer within 120 s")
            try:
                info = json.loads(creds.read_text())
                httpx.get(f"{info['host']}/.well-known/databricks-config", verify=info["ca_file"])
                return info
            except (OSError, ValueError, KeyError, httpx.HTTPError):
                time.sleep(0.1)

    def __exit__(self, *_: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def suite_env(info: dict[str, Any]) -> dict[str, str]:
    """Each suite's connection details, as it reads them from the environment."""
    host, ca = info["host"], info["ca_file"]
    token = httpx.post(
        f"{host}/oidc/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=(info["client_id"], info["client_secret"]),
        verify=ca,
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    pat = httpx.post(
        f"{host}/api/2.0/token/create", headers=bearer, json={"comment": "peer suites"}, verify=ca
    ).json()["token_value"]
    furnish(host, bearer, ca)
    warehouses = httpx.get(f"{host}/api/2.0/sql/warehouses", headers=bearer, verify=ca).json()
    warehouse = next(w for w in warehouses["warehouses"] if w["state"] == "RUNNING")["id"]
    hostname = host.removeprefix("https://").split(":")[0]
    return {
        **os.environ,
        "SSL_CERT_FILE": ca,
        "REQUESTS_CA_BUNDLE": ca,
        "DATABRICKS_SERVER_HOSTNAME": hostname,
        "DATABRICKS_HTTP_PATH": f"/sql/1.0/warehouses/{warehouse}",
        "DATABRICKS_TOKEN": pat,
        "DATABRICKS_CATALOG": "main",
        "DATABRICKS_SCHEMA": "default",
        "DATABRICKS_HOST": f"https://{hostname}",
        "DATABRICKS_CLIENT_ID": info["client_id"],
        "DATABRICKS_CLIENT_SECRET": info["client_secret"],
        "CLOUD_ENV": "aws",
        "TEST_ENVIRONMENT_TYPE": "UC_WORKSPACE",
        "TEST_METASTORE_ID": "local-metastore",
        "TEST_DEFAULT_WAREHOUSE_ID": warehouse,
        "TEST_DEFAULT_CATALOG": "main",
        "THIS_WORKSPACE_ID": str(info["workspace_id"]),
    }


def furnish(host: str, bearer: dict[str, str], ca: str) -> None:
    """What the suites' own test workspace holds and they read without making it: a user
    (test_scim_get_user_as_dict lists the first) and a job (test_jobs counts them)."""
    for path, body in (
        ("/api/2.0/preview/scim/v2/Users", {"userName": "peer.suites@example.com"}),
        ("/api/2.2/jobs/create", {"name": "peer suites",
                                  "tasks": [{"task_key": "t", "notebook_task": {
                                      "notebook_path": "/Workspace/peer-suites"}}]}),
    ):  # fmt: skip
        httpx.post(f"{host}{path}", headers=bearer, json=body, verify=ca).raise_for_status()


def account_env(info: dict[str, Any]) -> dict[str, str]:
    """The SDK suite's account environment: the account host, its id and an account admin."""
    return {
        "DATABRICKS_HOST": info["account_host"],
        "DATABRICKS_ACCOUNT_ID": info["account_id"],
        "TEST_ENVIRONMENT_TYPE": "UC_ACCOUNT",
        "TEST_WORKSPACE_ID": str(info["workspace_id"]),
        "TEST_DATABRICKS_CLIENT_ID": info["client_id"],
        "TEST_DATABRICKS_CLIENT_SECRET": info["client_secret"],
    }


def run_suite(
    checkout: Path, suite: str, out: dict[str, str], keyword: str, env: dict[str, str], xml: Path
) -> None:
    files = [f"--ignore={suite}/{name}" for name in out if name.endswith(".py")]
    skip = " and ".join(f"not {fragment}" for fragment in out if not fragment.endswith(".py"))
    selected = " and ".join(f"({part})" for part in (keyword, skip) if part)
    log = xml.with_suffix(".log")  # progress, test by test, while it runs
    print(f"{suite}: running; follow {log}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pytest", suite, *files, "-v", "-p", "no:cacheprovider",
         *(["-k", selected] if selected else []),
         f"--junitxml={xml}", "-o", "addopts=", "--timeout=900"],
        cwd=checkout,
        env={**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(checkout), env.get("PYTHONPATH")]))},  # noqa: E501
        stdout=log.open("w"), stderr=subprocess.STDOUT, check=False,
    )  # fmt: skip


def cause_of(line: str) -> str:
    """An error's line with its ids and numbers as N, so alike failures count as one cause."""
    return re.sub(r"[0-9a-f]{8,}|\d+", "N", line)


def summarize(name: str, xml: Path, seconds: float) -> None:
    if not xml.exists():
        print(f"{name}: no report (the suite did not start; run it by hand to see why)")
        return
    counts: collections.Counter[str] = collections.Counter()
    causes: collections.Counter[str] = collections.Counter()
    for case in ET.parse(xml).iter("testcase"):  # noqa: S314 - our own pytest's report
        outcome = "passed"
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                outcome = kind
                if kind != "skipped":
                    first = (found.get("message") or "").strip().splitlines() or ["?"]
                    causes[cause_of(first[0])[:120]] += 1
                break
        counts[outcome] += 1
    ran = counts["passed"] + counts["failure"] + counts["error"]
    rate = counts["passed"] / ran if ran else 0.0
    print(
        f"{name}: {counts['passed']} passed of {ran} run in scope ({rate:.0%}), "
        f"{counts['failure']} failed, {counts['error']} errors, {counts['skipped']} skipped, "
        f"{seconds:.0f} s"
    )
    for cause, n in causes.most_common(25):
        print(f"  {n:4d}  {cause}")


if __name__ == "__main__":
    sys.exit(main())
