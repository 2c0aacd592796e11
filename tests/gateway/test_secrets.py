"""Secret references, the 0600 store, and the redactor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakegate.errors import SecretError
from lakegate.project import BasicAuth, Connector
from lakegate.secrets import (
    SecretStore,
    is_reference,
    redact,
    redact_data,
    register_secret,
    resolve,
)


def test_the_store_is_private_and_atomic(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / ".lakegate")
    store.set("DB_SECRET", "store-value-91aa")
    store.set("OTHER", "other-value-22bb")
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert store.names() == ["DB_SECRET", "OTHER"]
    assert store.get("DB_SECRET") == "store-value-91aa"
    assert store.remove("OTHER") and not store.remove("OTHER")
    # no temp file left; the writers' lock beside the store is private too
    assert sorted(p.name for p in store.state_dir.iterdir()) == [
        "secrets.json",
        "secrets.json.lock",
    ]
    assert (store.state_dir / "secrets.json.lock").stat().st_mode & 0o077 == 0
    assert "store-value" not in repr(store)


def test_a_readable_store_is_refused(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    store.set("A_SECRET", "value-1234")
    os.chmod(store.path, 0o644)
    with pytest.raises(SecretError, match="readable by other users") as caught:
        store.get("A_SECRET")
    assert caught.value.code == "config.secret_store_insecure"
    assert "chmod 600" in caught.value.hint


def test_resolve_env_and_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SecretStore(tmp_path)
    store.set("S1", "from-store-5566")
    monkeypatch.setenv("E1", "from-env-7788")
    assert resolve("${secret:S1}", store) == "from-store-5566"
    assert resolve("${env:E1}", store) == "from-env-7788"
    with pytest.raises(SecretError, match="E2") as caught:
        resolve("${env:E2}", store)
    assert "export E2" in caught.value.hint
    with pytest.raises(SecretError, match="not in the local secret store") as caught:
        resolve("${secret:S2}", store)
    assert "lakegate secret set S2" in caught.value.hint
    with pytest.raises(SecretError, match="not a valid secret name"):
        store.set("bad name", "x")


def test_references() -> None:
    assert is_reference("${env:A_B}") and is_reference("${secret:db.prod-1}")
    assert (
        not is_reference("${vault:x}") and not is_reference("plain") and not is_reference("${env:}")
    )


def test_redact_replaces_every_form_of_a_registered_secret() -> None:
    register_secret("s3cr3t/with+chars")
    text = "a s3cr3t/with+chars b s3cr3t%2Fwith%2Bchars c s3cr3t%2Fwith%2Bchars"
    assert redact(text) == "a *** b *** c ***"
    assert redact_data({"k": ["s3cr3t/with+chars", 1]}) == {"k": ["***", 1]}
    register_secret("ab")  # too short to redact blindly
    assert redact("ab cab") == "ab cab"


def test_reprs_of_auth_models_hold_references_only() -> None:
    conn = Connector(
        name="svc",
        base_url="https://x.test",
        auth=BasicAuth(username="u", password="${env:PW}"),
    )
    assert "${env:PW}" in repr(conn)
    with pytest.raises(Exception) as caught:
        BasicAuth(username="u", password="literal-pass-9911")
    assert "literal-pass-9911" not in str(caught.value)
