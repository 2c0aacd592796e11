"""What Databricks supports, for SQLAlchemy's compliance suite: lakegate's own statement.

Starts from databricks-sqlalchemy's requirements (what its dialect does) and closes a
requirement only where Databricks itself lacks the feature, each with the reason. A closed
requirement skips the tests that need it, or (denormalized_names) makes them check the
behaviour a backend without the feature has."""

from __future__ import annotations

from databricks.sqlalchemy.requirements import Requirements as DialectRequirements
from sqlalchemy.testing import exclusions


def _lacks(reason: str) -> exclusions.compound:
    return exclusions.skip_if(lambda _config: True, f"Databricks lacks this: {reason}")


class Requirements(DialectRequirements):
    @property
    def denormalized_names(self) -> exclusions.compound:
        # Databricks keeps a name's case as written (`ALL_UPPERCASE`, `MixedCase`, `id`); it does
        # not store unquoted names upper-case as Oracle does, which is what this requirement means
        # (SQLAlchemy's own default closes it for dialects without name normalization).
        return _lacks("names keep their case as written; unquoted names are not upper-cased")

    @property
    def identity_columns(self) -> exclusions.compound:
        # Delta's identity columns are BIGINT only (DELTA_IDENTITY_COLUMNS_UNSUPPORTED_DATA_TYPE
        # for any other type); the suite declares every identity column INTEGER.
        return _lacks("identity columns are BIGINT only; the suite's are INTEGER")

    @property
    def autoincrement_insert(self) -> exclusions.compound:
        # An INTEGER primary key gets no generated value: only a declared BIGINT identity column
        # does, and the dialect declares none for `autoincrement=True`.
        return _lacks("no generated values for an INTEGER primary key")

    @property
    def duplicate_key_raises_integrity_error(self) -> exclusions.compound:
        # Delta's PRIMARY KEY and FOREIGN KEY constraints are informational, never enforced.
        return _lacks("primary keys are informational and not enforced")

    @property
    def empty_inserts(self) -> exclusions.compound:
        # Spark SQL's INSERT needs at least one column (no `()` list, no DEFAULT VALUES).
        return _lacks("an INSERT names at least one column")

    @property
    def reflect_tables_no_columns(self) -> exclusions.compound:
        # Spark SQL's column list needs at least one column (`CREATE TABLE t ()` is a syntax
        # error), and Delta refuses writes to a table without columns
        # (DELTA_CANNOT_WRITE_EMPTY_SCHEMA).
        return _lacks("a table has at least one column")
