"""Signed statement handles: a replica opens what any replica sealed, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakegate.copilot.handles import KEY_SECRET, PREFIX, HandleSigner, signing_key
from lakegate.errors import PolicyError
from lakegate.secrets import SecretStore

KEY = b"k" * 32


def test_a_sealed_handle_opens_on_any_replica_with_the_same_key() -> None:
    handle = HandleSigner(KEY, 600).seal("01ef-a.b")
    assert handle.startswith(PREFIX) and "01ef-a.b" in handle
    assert HandleSigner(KEY, 600).open(handle) == "01ef-a.b"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: h[:-3] + ("xyz" if not h.endswith("xyz") else "abc"),  # another signature
        lambda h: h.replace("01ef", "01eg"),  # another statement
        lambda h: h.rsplit(".", 3)[0] + ".9999999999." + ".".join(h.rsplit(".", 2)[1:]),  # later
        lambda h: h[len(PREFIX) :].rsplit(".", 3)[0],  # the bare statement id
        lambda h: ".".join([*h.rsplit(".", 2)[:1], "QUJD", h.rsplit(".", 1)[1]]),  # another owner
        lambda h: "",
    ],
)
def test_a_forged_handle_is_refused(tamper: object) -> None:
    handle = HandleSigner(KEY, 600).seal("01ef-a.b")
    with pytest.raises(PolicyError) as refused:
        HandleSigner(KEY, 600).open(tamper(handle))  # type: ignore[operator]
    assert refused.value.code == "policy.bad_handle" and refused.value.hint


def test_a_handle_opens_only_for_the_person_it_was_sealed_for() -> None:
    signer = HandleSigner(KEY, 600)
    alices = signer.seal("s1", "alice@example.com")
    assert "alice" not in alices  # the owner is a keyed fingerprint, not a name
    assert signer.open(alices, "Alice@Example.com") == "s1"
    for other in ("bob@example.com", None):
        with pytest.raises(PolicyError) as refused:
            signer.open(alices, other)
        assert refused.value.code == "policy.not_yours", other
    with pytest.raises(PolicyError) as nobodys:
        signer.open(signer.seal("s1"), "bob@example.com")
    assert nobodys.value.code == "policy.not_yours"
    opened, sid = signer.open_arguments({"statement_id": alices}, "alice@example.com")
    assert sid == "s1" and opened == {"statement_id": "s1"}
    assert signer.open(signer.seal_data({"statement_id": "s1"}, "s1", "bob@example.com")[
        "statement_id"], "bob@example.com") == "s1"  # fmt: skip


def test_a_handle_from_another_key_or_past_its_expiry_is_refused() -> None:
    handle = HandleSigner(KEY, 600).seal("s1")
    with pytest.raises(PolicyError) as other:
        HandleSigner(b"x" * 32, 600).open(handle)
    assert other.value.code == "policy.bad_handle"
    later = HandleSigner(KEY, 600, clock=lambda: 10.0**10)
    with pytest.raises(PolicyError) as expired:
        later.open(handle)
    assert expired.value.code == "policy.handle_expired"


def test_answers_get_fresh_handles_wherever_the_id_appears() -> None:
    signer = HandleSigner(KEY, 600)
    data = {"statement_id": "s1", "next": {"statement_id": "s1", "row_offset": 10}, "x": ["s1"]}
    sealed = signer.seal_data(data, "s1")
    assert sealed["statement_id"].startswith(PREFIX)
    assert sealed["next"]["statement_id"].startswith(PREFIX) and sealed["x"] == ["s1"]
    text = json.loads(signer.seal_text('{"statement_id": "s1"}', "s1"))
    assert signer.open(text["statement_id"]) == "s1"
    opened, sid = signer.open_arguments({"statement_id": sealed["statement_id"], "n": 1})
    assert sid == "s1" and opened == {"statement_id": "s1", "n": 1}


def test_the_key_is_made_once_and_kept_in_the_secret_store(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / ".lakegate")
    first, again = signing_key(store), signing_key(SecretStore(tmp_path / ".lakegate"))
    assert first == again and len(first) >= 32
    assert store.get(KEY_SECRET) == first.decode()
    shown = repr(HandleSigner(first, 600))
    assert "***" in shown and first.decode() not in shown


def test_a_statement_belongs_to_the_session_and_the_person_that_started_it() -> None:
    from lakegate.copilot.running import RunningStatements

    running = RunningStatements("cancel_statement")
    running.track("execute_sql", "s1", "RUNNING", lambda: None, "sess", "alice@example.com")
    assert running.owns("s1", "sess", "alice@example.com")
    assert not running.owns("s1", "sess", "bob@example.com")  # same session, someone else
    assert not running.owns("s1", "other", "alice@example.com")
    assert not running.owns("s2", "sess", "alice@example.com")
