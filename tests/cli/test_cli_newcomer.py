"""What a new user hits (issue 14), pinned through the CLI on a real local workspace."""

from __future__ import annotations

import json
from collections.abc import Callable

from conftest import Cli

# ~1.9 MB of inline rows: over the default 1 MiB response cap.
BIG_SQL = "SELECT * FROM range(200000)"


def _big_action(cli: Cli, *extra: str) -> None:
    warehouses = json.loads(cli("call", "list_warehouses").stdout)
    starter = next(w["id"] for w in warehouses if w["name"] == "Starter Warehouse")
    body = {"statement": BIG_SQL, "warehouse_id": starter, "wait_timeout": "30s"}
    added = cli(
        "action", "add", "big_rows", "--method", "POST", "--path", "/api/2.0/sql/statements",
        "--body", json.dumps(body), "--output", "length(result.data_array)", "--risk", "read",
        *extra,
    )  # fmt: skip
    assert added.code == 0, added.output


def test_a_response_over_the_cap_fails_clearly(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    _big_action(cli)
    called = cli("call", "big_rows")
    assert called.code == 1 and called.stdout == ""  # no cut-off, invalid data
    said = " ".join(called.stderr.split())
    assert "remote.response_too_large" in said and "1,048,576-byte cap" in said
    assert "max_response_bytes" in said  # how to raise it

    as_json = json.loads(cli("call", "big_rows", "--json").stdout)
    assert as_json["ok"] is False and as_json["data"] is None
    assert as_json["error"]["code"] == "remote.response_too_large"

    tested = cli("test", "big_rows")
    assert tested.code == 1 and "Test passed" not in tested.output
    assert "Test failed" in tested.stderr


def test_the_cap_is_a_setting_per_action_and_per_connector(seeded: Callable[..., Cli]) -> None:
    cli = seeded()
    _big_action(cli)
    text = cli.project.read_text()
    cli.project.write_text(
        text.replace(
            "    output: length(", "    max_response_bytes: 4194304\n    output: length(", 1
        )
    )
    called = cli("call", "big_rows")
    assert called.code == 0, called.output
    assert json.loads(called.stdout) == 200000  # the projection ran on the whole response

    cli.project.write_text(
        text.replace("  databricks:\n", "  databricks:\n    max_response_bytes: 4194304\n", 1)
    )
    assert json.loads(cli("call", "big_rows").stdout) == 200000
