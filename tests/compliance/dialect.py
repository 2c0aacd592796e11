"""databricks-sqlalchemy's dialect, reading the port and CA file from the URL's query."""

from __future__ import annotations

from typing import Any

from databricks.sqlalchemy import DatabricksDialect


class LocalDialect(DatabricksDialect):
    supports_statement_cache = True  # as its parent's: SQLAlchemy asks every subclass

    def create_connect_args(self, url: Any) -> Any:
        args, kwargs = super().create_connect_args(url)
        kwargs.update(
            _port=int(url.query["_port"]),
            _tls_trusted_ca_file=url.query["_ca"],
            enable_telemetry=False,
        )
        return args, kwargs
