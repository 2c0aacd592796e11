"""What Databricks supports, for SQLAlchemy's compliance suite: lakegate's own statement.

Starts from databricks-sqlalchemy's requirements (what its dialect does) and closes a
requirement only where Databricks itself lacks the feature, each with the reason."""

from __future__ import annotations

from databricks.sqlalchemy.requirements import Requirements as DialectRequirements


class Requirements(DialectRequirements):
    pass
