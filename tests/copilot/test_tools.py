"""Answers are bounded and redacted; annotations and descriptions follow risk and policy."""

from __future__ import annotations

import json

from lakegate.copilot.policy import plan_tool
from lakegate.copilot.tools import annotations_for, describe, shape_answer
from lakegate.project import Action, CopilotPolicy, Input
from lakegate.secrets import register_secret


def test_lists_are_cut_to_max_rows_and_marked_truncated() -> None:
    data = {"warehouses": [{"id": i} for i in range(10)], "next_page_token": None}
    answer = shape_answer(data, max_rows=3, max_bytes=65536)
    assert answer.truncated and answer.row_count == 10
    assert answer.data["warehouses"] == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert answer.data["truncated"] is True
    assert json.loads(answer.text) == answer.data
    assert data["warehouses"][5] == {"id": 5}  # the caller's data is not mutated


def test_answers_are_cut_to_max_bytes() -> None:
    data = [{"row": i, "pad": "abc " * 25} for i in range(200)]  # no registered secret in it
    answer = shape_answer(data, max_rows=1000, max_bytes=2048)
    assert answer.truncated and 0 < len(answer.data) < 20
    assert len(answer.text.encode()) <= 2048 + 80  # plus the one-line note for a bare list
    assert answer.text.endswith("(truncated: the answer was cut to the copilot policy's caps)")


def test_an_oversized_scalar_becomes_a_bounded_text() -> None:
    answer = shape_answer({"blob": "y" * 10000}, max_rows=10, max_bytes=1024)
    assert answer.truncated and len(answer.text.encode()) <= 1024


def test_registered_secrets_never_reach_the_model() -> None:
    register_secret("tok-ABCDEF-123456")
    register_secret('quote"and\\slash-secret')
    data = {"note": "token tok-ABCDEF-123456", "other": 'x quote"and\\slash-secret y'}
    answer = shape_answer(data, max_rows=10, max_bytes=4096)
    assert "tok-ABCDEF-123456" not in answer.text and "slash-secret" not in answer.text
    assert answer.data == {"note": "token ***", "other": "x *** y"}


def test_statement_handles_are_recognised() -> None:
    answer = shape_answer(
        {"statement_id": "01ef", "status": {"state": "RUNNING"}}, max_rows=5, max_bytes=4096
    )
    assert (answer.statement_id, answer.state) == ("01ef", "RUNNING")


def test_annotations_and_description_follow_risk() -> None:
    action = Action(
        name="stop_warehouse",
        connector="dbx",
        method="POST",
        path="/api/2.0/sql/warehouses/{{warehouse_id}}/stop",
        inputs={"warehouse_id": Input(required=True)},
        risk="destructive",
    )
    policy = CopilotPolicy(profile="admin", pinned={"warehouse_id": "w1"})
    plan = plan_tool(policy, action)
    hints = annotations_for(plan)
    assert hints["readOnlyHint"] is False and hints["destructiveHint"] is True
    assert hints["idempotentHint"] is False  # POST without `idempotent: true`
    text = describe(plan, policy)
    assert "confirm: true" in text and "pinned SQL warehouse w1" in text
