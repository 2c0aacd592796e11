"""The Studio: a local web page to create connectors and actions, press Test, and save.

with StudioServer("lakegate.yaml") as server:
    print(server.login_url())
"""

from lakegate.studio.app import Studio, create_app
from lakegate.studio.server import StudioServer

__all__ = ["Studio", "StudioServer", "create_app"]
