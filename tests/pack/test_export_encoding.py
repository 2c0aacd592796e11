"""Parquet from an export: a dictionary only for columns that repeat.

Trying a dictionary on a column of unique values in every row group made the writer 3-5x slower
(benchmarks/export.py); a column with few values keeps it, so its file stays small.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from lakegate.databricks.export import export_query
from lakegate.gateway import Gateway
from lakegate.workspace import LocalWorkspace

from .conftest import ProjectOn


def encodings(path: Path, column: str) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    index = meta.schema.names.index(column)
    return {
        e for g in range(meta.num_row_groups) for e in meta.row_group(g).column(index).encodings
    }


async def test_unique_columns_are_written_plain_and_repeating_ones_with_a_dictionary(
    workspace: LocalWorkspace, project_on: ProjectOn, tmp_path: Path
) -> None:
    sql = (
        "SELECT id, concat('row-', id) AS label, CASE WHEN id % 3 = 0 THEN 'red' "
        "ELSE 'blue' END AS colour FROM range(300000) AS r(id)"
    )
    out = tmp_path / "t.parquet"
    async with Gateway(await project_on(workspace)) as gw:
        result = await export_query(gw, "databricks", sql, out)
    assert result.rows == 300_000
    dictionary = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert not encodings(out, "id") & dictionary
    assert not encodings(out, "label") & dictionary
    assert encodings(out, "colour") & dictionary
    table = pq.read_table(out)
    assert table["colour"].to_pylist()[:4] == ["red", "blue", "blue", "red"]
