"""Writers that run at once lose nothing: lakegate.yaml, the secret store and the keys replicas
share are each changed under an inter-process lock, re-read under it."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lakegate.copilot.handles import KEY_SECRET, signing_key
from lakegate.errors import ConfigError
from lakegate.project import Connector, Project, load_project
from lakegate.secrets import SecretStore

WRITERS = 20
SECRET_WRITERS, SECRETS_EACH = 6, 15


def lakegate(folder: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "LAKEGATE_PROJECT": str(folder / "lakegate.yaml"), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "lakegate", *args],
        cwd=folder,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_all(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err


def test_parallel_connector_adds_lose_none(tmp_path: Path) -> None:
    project = Project.new(tmp_path / "lakegate.yaml")
    project.set_connector("seed", Connector(name="seed", base_url="https://seed.example.com"))
    project.save()
    procs = [
        lakegate(tmp_path, "connector", "add", f"c{i}", "--base-url", f"https://h{i}.example.com")
        for i in range(WRITERS)
    ]
    finish_all(procs)
    names = set(load_project(tmp_path / "lakegate.yaml").connectors)
    lost = {f"c{i}" for i in range(WRITERS)} - names
    assert not lost, f"{len(lost)} of {WRITERS} connectors lost: {sorted(lost)}"
    assert "seed" in names


def _store_secrets(state_dir: str, barrier: Any, writer: int) -> None:
    barrier.wait()
    store = SecretStore(state_dir)
    for i in range(SECRETS_EACH):
        store.set(f"S{writer}_{i}", f"value-{writer}-{i}-{'x' * 20}")


def test_parallel_secret_sets_lose_none(tmp_path: Path) -> None:
    """6 processes x 15 `set`s at once on one store: 90 secrets stored, none lost."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(SECRET_WRITERS)
    procs = [
        ctx.Process(target=_store_secrets, args=(str(tmp_path), barrier, w))
        for w in range(SECRET_WRITERS)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    store = SecretStore(tmp_path)
    expected = {f"S{w}_{i}" for w in range(SECRET_WRITERS) for i in range(SECRETS_EACH)}
    lost = expected - set(store.names())
    assert not lost, f"{len(lost)} of {len(expected)} secrets lost"
    assert store.get("S5_14") == f"value-5-14-{'x' * 20}"


def test_secret_set_from_parallel_cli_processes(tmp_path: Path) -> None:
    (tmp_path / "lakegate.yaml").write_text("connectors: {}\nactions: {}\n")
    procs = [lakegate(tmp_path, "secret", "set", f"S{i}") for i in range(8)]
    for i, proc in enumerate(procs):
        out, err = proc.communicate(f"value-{i}-{'x' * 20}\n", timeout=120)
        assert proc.returncode == 0, out + err
    assert set(SecretStore(tmp_path / ".lakegate").names()) == {f"S{i}" for i in range(8)}


def _replica_key(state_dir: str, barrier: Any, out: str) -> None:
    barrier.wait()
    Path(out).write_text(signing_key(SecretStore(state_dir)).decode())


def test_replicas_started_at_once_share_one_handle_key(tmp_path: Path) -> None:
    """Three `serve --http --stateless` replicas on a fresh store agree on one signing key."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(5):  # five fresh stores: a race that loses shows up in one of them
        state = tmp_path / f"store{attempt}"
        barrier = ctx.Barrier(3)
        outs = [tmp_path / f"key{attempt}.{i}" for i in range(3)]
        procs = [
            ctx.Process(target=_replica_key, args=(str(state), barrier, str(out))) for out in outs
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
            assert proc.exitcode == 0
        keys = {out.read_text() for out in outs}
        assert len(keys) == 1, f"{len(keys)} different handle keys on one fresh store"
        stored = json.loads((state / "secrets.json").read_text())
        assert stored[KEY_SECRET] in keys


def test_a_conflicting_change_is_refused_and_loses_nothing(tmp_path: Path) -> None:
    """Two writers change the same connector: the second is told, and the first change stays."""
    path = tmp_path / "lakegate.yaml"
    project = Project.new(path)
    project.set_connector("db", Connector(name="db", base_url="https://one.example.com"))
    project.save()
    first, second = load_project(path), load_project(path)
    first.set_connector("db", Connector(name="db", base_url="https://two.example.com"))
    first.save()
    second.set_connector("db", Connector(name="db", base_url="https://three.example.com"))
    with pytest.raises(ConfigError) as caught:
        second.save()
    assert caught.value.code == "config.changed_meanwhile"
    assert "db" in str(caught.value) and caught.value.hint
    assert str(load_project(path).connectors["db"].base_url).startswith("https://two.")


def test_writers_of_different_entries_both_keep_theirs(tmp_path: Path) -> None:
    path = tmp_path / "lakegate.yaml"
    project = Project.new(path)
    project.set_connector("db", Connector(name="db", base_url="https://one.example.com"))
    project.save()
    path.write_text("# kept comment\n" + path.read_text())
    first, second = load_project(path), load_project(path)
    first.set_connector("aa", Connector(name="aa", base_url="https://a.example.com"))
    first.save()
    second.set_connector("bb", Connector(name="bb", base_url="https://b.example.com"))
    second.remove_connector("db")
    second.save()
    assert set(load_project(path).connectors) == {"aa", "bb"}
    assert set(second.connectors) == {"aa", "bb"}  # the saved project shows what the file holds
    assert path.read_text().startswith("# kept comment\n")
