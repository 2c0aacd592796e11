"""The audit log: complete lines, no secrets, no interleaving, rotation by size, stats."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

from lakegate.copilot.audit import AuditLog, call_record, read_records, scrub_arguments, stats
from lakegate.secrets import register_secret


def test_arguments_are_redacted_truncated_and_hashed() -> None:
    register_secret("s3cr3t-value-xyz")
    long_sql = "SELECT " + ", ".join(f"c{i}" for i in range(400))
    scrubbed = scrub_arguments(
        {
            "statement": long_sql,
            "note": "uses s3cr3t-value-xyz",
            "client_secret": "anything",
            "nested": {"api_key": "k", "n": 3},
        }
    )
    assert scrubbed["client_secret"] == "***" and scrubbed["nested"]["api_key"] == "***"
    assert scrubbed["note"] == "uses ***"
    assert scrubbed["nested"]["n"] == 3
    assert len(scrubbed["statement"]) < 200
    assert "sha256:" in scrubbed["statement"] and f"[{len(long_sql)} chars" in scrubbed["statement"]


def test_a_record_has_every_documented_field(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.write(
        call_record(
            client={"name": "claude", "version": "1"},
            tool="execute_sql",
            arguments={"statement": "SELECT 1"},
            outcome="ok",
            elapsed_ms=12.345,
            status=200,
            statement_id="st-1",
            row_count=1,
        )
    )
    (record,) = list(read_records(log.path))
    assert set(record) >= {
        "ts",
        "client",
        "tool",
        "arguments",
        "outcome",
        "status",
        "statement_id",
        "run_id",
        "row_count",
        "truncated",
        "elapsed_ms",
    }
    assert record["client"] == {"name": "claude", "version": "1"}
    assert record["elapsed_ms"] == 12.35 and record["statement_id"] == "st-1"
    assert (log.path.stat().st_mode & 0o777) == 0o600


def test_the_folder_is_made_private_on_first_write_and_again_if_removed(tmp_path: Path) -> None:
    folder = tmp_path / "state" / ".lakegate"
    log = AuditLog(folder / "audit.jsonl")
    log.write({"tool": "first"})
    assert (folder.stat().st_mode & 0o777) == 0o700
    for leftover in folder.iterdir():  # someone clears the state folder while the server runs
        leftover.unlink()
    folder.rmdir()
    log.write({"tool": "second"})
    assert [r["tool"] for r in read_records(log.path)] == ["second"]


def _hammer(path: str, worker: int, count: int) -> None:
    log = AuditLog(path, max_bytes=10**9)
    for i in range(count):
        log.write({"tool": f"t{worker}", "i": i, "pad": "x" * (100 + (i % 7) * 900)})


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    threads = [threading.Thread(target=_hammer, args=(str(path), w, 200)) for w in range(4)]
    procs = [
        multiprocessing.get_context("fork").Process(target=_hammer, args=(str(path), 10 + w, 200))
        for w in range(2)
    ]
    # Fork first: forking while threads hold locks would copy a held lock into the child.
    for t in [*procs, *threads]:
        t.start()
    for t in [*threads, *procs]:
        t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 1200
    records = [json.loads(line) for line in lines]  # any interleaving breaks the JSON
    for worker in (0, 1, 2, 3, 10, 11):
        assert [r["i"] for r in records if r["tool"] == f"t{worker}"] == list(range(200))


def test_rotation_keeps_three_old_files_and_no_record_is_split(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=2048)
    for i in range(200):
        log.write({"tool": "t", "i": i, "pad": "y" * 50})
    files = log.files()
    assert [f.name for f in files] == [
        "audit.jsonl.3",
        "audit.jsonl.2",
        "audit.jsonl.1",
        "audit.jsonl",
    ]
    assert all(f.stat().st_size <= 2048 for f in files)
    seen = [r["i"] for r in read_records(log.path)]
    assert seen == list(range(200 - len(seen), 200))  # contiguous newest records, oldest first


def test_stats_count_calls_errors_and_percentiles() -> None:
    records = [{"tool": "a", "outcome": "ok", "elapsed_ms": float(ms)} for ms in range(1, 101)]
    records += [
        {"tool": "b", "outcome": "error", "elapsed_ms": 5.0},
        {"tool": "b", "outcome": "ok", "elapsed_ms": 7.0},
        {"event": "http.unauthorized", "outcome": "unauthorized"},
    ]
    rows = {r["tool"]: r for r in stats(records)}
    assert set(rows) == {"a", "b"}
    assert rows["a"] == {"tool": "a", "calls": 100, "errors": 0, "p50_ms": 50.0, "p95_ms": 95.0}
    assert rows["b"]["errors"] == 1 and rows["b"]["calls"] == 2
