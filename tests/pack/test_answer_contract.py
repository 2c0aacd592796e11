"""The SQL answer contract alone: any rows, any caps; always valid, bounded, cut between rows."""

from __future__ import annotations

import json

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from lakegate.databricks.answer import (
    ANSWER_SCHEMA,
    JSON_ROWS_MAX,
    SQL_OUTPUT_SCHEMA,
    Answer,
    Column,
    handle,
)

VALIDATORS = [jsonschema.Draft202012Validator(s) for s in (ANSWER_SCHEMA, SQL_OUTPUT_SCHEMA)]
COLUMNS = [Column("id", "BIGINT"), Column("name", "STRING"), Column("price", "DOUBLE")]
CELL_TEXT = st.text(alphabet=st.sampled_from("ab\t\n\r\\|\"'é日 NUL"), max_size=12)
ROWS = st.lists(
    st.tuples(
        st.integers(-(10**12), 10**12).map(str) | st.none(),
        CELL_TEXT | st.none(),
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr) | st.none(),
    ).map(list),
    max_size=60,
)


def unescape(cell: str) -> str | None:
    if cell == "NULL":
        return None
    out, i = [], 0
    while i < len(cell):
        if cell[i] == "\\" and i + 1 < len(cell):
            out.append({"t": "\t", "n": "\n", "r": "\r"}.get(cell[i + 1], cell[i + 1]))
            i += 2
        else:
            out.append(cell[i])
            i += 1
    return "".join(out)


def shown_rows(answer: dict) -> list[list]:
    rows = answer["rows"]
    if isinstance(rows, list):
        return rows
    return [[unescape(c) for c in line.split("\t")] for line in rows.split("\n")] if rows else []


@settings(max_examples=200, deadline=None)
@given(
    rows=ROWS,
    offset=st.integers(0, 50),
    extra=st.integers(0, 100),
    max_rows=st.integers(1, 80),
    max_bytes=st.integers(1024, 6000),
)
def test_any_page_is_valid_bounded_and_cut_between_rows(
    rows: list[list], offset: int, extra: int, max_rows: int, max_bytes: int
) -> None:
    total = offset + len(rows) + extra
    answer = Answer("01ef-sid", COLUMNS, rows, row_offset=offset, total_row_count=total)
    data = answer.to_dict(max_rows=max_rows, max_bytes=max_bytes)
    for validator in VALIDATORS:
        validator.validate(data)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert len(text.encode()) <= max_bytes
    assert data["columns"] == [c.to_dict() for c in COLUMNS]  # complete, whatever the caps
    shown = shown_rows(data)
    assert len(shown) == data["row_count"] <= max_rows
    for got, sent in zip(shown, rows, strict=False):  # whole rows, in order, none cut
        if isinstance(data["rows"], list):
            assert got[1] == sent[1] and (got[0] is None) == (sent[0] is None)
            assert got[0] is None or got[0] == int(sent[0])
        else:
            assert got == sent
    end = offset + data["row_count"]
    assert data["truncated"] is (end < total)
    assert (data["truncated_reason"] is None) is (not data["truncated"])
    if end < total:
        assert data["next"] == {"statement_id": "01ef-sid", "row_offset": end}
    else:
        assert "next" not in data


def test_the_row_form_follows_the_answer_size() -> None:
    few = [[str(i), "x", "1.5"] for i in range(JSON_ROWS_MAX)]
    many = [*few, ["99", None, "2.0"]]
    small = Answer("s", COLUMNS, few, total_row_count=len(few)).to_dict(
        max_rows=100, max_bytes=65536
    )
    large = Answer("s", COLUMNS, many, total_row_count=len(many)).to_dict(
        max_rows=100, max_bytes=65536
    )
    assert small["rows"][0] == [0, "x", 1.5]  # typed cells
    assert isinstance(large["rows"], str) and large["rows"].endswith("99\tNULL\t2.0")


def test_a_row_larger_than_the_cap_says_so_and_points_back_to_itself() -> None:
    rows = [["1", "y" * 5000, "1.0"]]
    data = Answer("s", COLUMNS, rows, total_row_count=1).to_dict(max_rows=10, max_bytes=1024)
    assert data["row_count"] == 0 and data["truncated"] is True
    assert "larger than max_bytes=1024" in data["truncated_reason"]
    assert data["next"]["row_offset"] == 0


def test_a_result_the_warehouse_cut_is_truncated_without_a_next() -> None:
    rows = [["1", "a", "1.0"]]
    data = Answer("s", COLUMNS, rows, total_row_count=1, server_truncated=True).to_dict(
        max_rows=10, max_bytes=4096
    )
    assert data["truncated"] is True and "warehouse" in data["truncated_reason"]
    assert "next" not in data


def test_a_handle_says_what_to_call_next() -> None:
    data = handle("01ef", "RUNNING", 4.96, 10)
    jsonschema.validate(data, SQL_OUTPUT_SCHEMA)
    assert data["elapsed_s"] == 5.0 and "get_statement" in data["next_call"]
