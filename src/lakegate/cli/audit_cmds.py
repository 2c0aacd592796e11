"""`lakegate audit tail` and `lakegate audit stats`: read the copilot server's audit log."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from lakegate.cli import _output
from lakegate.cli._project import print_json, state_dir
from lakegate.errors import InputError
from lakegate.secrets import redact

audit_app = typer.Typer(
    help="Read the copilot audit log (.lakegate/audit.jsonl).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the `audit` group to the app."""
    app.add_typer(audit_app, name="audit")


def _path() -> Path:
    from lakegate.copilot.audit import AUDIT_FILE

    return state_dir() / AUDIT_FILE


def _line(record: dict[str, Any]) -> str:
    if record.get("event"):
        return f"{record.get('ts', '')}  {record['event']} {record.get('remote', '')} " + str(
            record.get("reason", "")
        )
    client = record.get("client") or {}
    who = f"{client.get('name') or '?'}/{client.get('version') or '?'}"
    extra = [f"user={record['user']}"] if record.get("user") else []
    for key in ("status", "statement_id", "run_id", "row_count"):
        if record.get(key) is not None:
            extra.append(f"{key}={record[key]}")
    if record.get("truncated"):
        extra.append("truncated")
    if record.get("error"):
        extra.append(str(record["error"].get("code")))
    args = json.dumps(record.get("arguments") or {}, ensure_ascii=False)
    return (
        f"{record.get('ts', '')}  {record.get('outcome', ''):<9} {record.get('tool', '')} "
        f"{args} {record.get('elapsed_ms', 0):.0f}ms {who} {' '.join(extra)}"
    ).rstrip()


def _emit(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(redact(json.dumps(record, ensure_ascii=False)) + "\n")
    else:
        _output.console.print(escape(redact(_line(record))), soft_wrap=True)


@audit_app.command("tail")
def tail(
    lines: int = typer.Option(20, "--lines", "-n", min=1, help="How many of the last calls."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new calls."),
    as_json: bool = typer.Option(False, "--json", help="Print the raw JSON lines."),
) -> None:
    """The last tool calls: time, outcome, tool, arguments, time taken, client.

    Examples:

        lakegate audit tail -n 50
        lakegate audit tail -f --json | jq .tool
    """
    from lakegate.copilot.audit import read_records

    path = _path()
    for record in deque(read_records(path), maxlen=lines):
        _emit(record, as_json)
    sys.stdout.flush()
    if not follow:
        if not path.exists():
            _output.err_console.print(f"No audit log yet at {path}: no tool has been called.")
        return
    position = path.stat().st_size if path.exists() else 0
    try:
        while True:
            time.sleep(0.5)
            if not path.exists():
                continue
            size = path.stat().st_size
            if size < position:  # rotated: start the new file from its beginning
                position = 0
            if size == position:
                continue
            with path.open(encoding="utf-8", errors="replace") as handle:
                handle.seek(position)
                chunk = handle.read()
                position = handle.tell()
            for text in chunk.splitlines():
                try:
                    _emit(json.loads(text), as_json)
                except ValueError:
                    continue
            sys.stdout.flush()
    except KeyboardInterrupt:
        return


@audit_app.command("stats")
def stats_cmd(
    by: str = typer.Option(
        "tool", "--by", help="Group by `tool`, or by `user` (the OAuth caller; - for none)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Per tool (or per user): calls, errors, and the median and 95th percentile of the time
    taken.

    Example:

        lakegate audit stats --by user
    """
    from lakegate.copilot.audit import STATS_BY, read_records, stats

    if by not in STATS_BY:
        raise InputError(
            f"--by {by!r} is not a grouping of audit stats.",
            hint=f"Use --by {' or --by '.join(STATS_BY)}.",
        )
    rows = stats(read_records(_path()), by=by)
    if as_json:
        print_json(rows)
        return
    if not rows:
        _output.err_console.print(f"No tool calls recorded in {_path()} yet.")
        return
    table = Table(by, "calls", "errors", "p50 ms", "p95 ms", title="Copilot tool calls")
    for row in rows:
        table.add_row(
            escape(row[by]),
            str(row["calls"]),
            str(row["errors"]),
            f"{row['p50_ms']:.1f}",
            f"{row['p95_ms']:.1f}",
        )
    _output.console.print(table)
