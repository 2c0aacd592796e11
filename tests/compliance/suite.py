"""Every test of SQLAlchemy's reusable dialect compliance suite, as shipped in `sqlalchemy`."""

from sqlalchemy.testing.suite import *  # noqa: F403
