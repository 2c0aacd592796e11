"""SQLAlchemy's dialect compliance suite against the local workspace (its own pytest process).

The dialect is databricks-sqlalchemy's, unchanged but for one thing the suite's `--dburi` cannot
carry and the connector needs off port 443: `_port` and `_tls_trusted_ca_file`, read from the
URL (users pass them as `connect_args`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy.dialects import registry

sys.path.insert(0, str(Path(__file__).parent))  # requirements.py, named in setup.cfg
registry.register("databricks", "dialect", "LocalDialect")
registry.register("databricks.databricks", "dialect", "LocalDialect")
pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402, F403
