"""`lakegate studio --no-browser` as a user runs it: it prints a one-time link on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_lakegate_studio_prints_a_login_link_and_serves_on_loopback(tmp_path: Path) -> None:
    project = tmp_path / "lakegate.yaml"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "lakegate", "--project", str(project), "studio"]
    process = subprocess.Popen(
        [*command, "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline, seen = time.monotonic() + 20, ""
        link = None
        while link is None and time.monotonic() < deadline and process.poll() is None:
            seen += process.stdout.readline() if process.stdout else ""
            match = re.search(r"(http://127\.0\.0\.1:\d+/login\?token=[\w-]+)", seen)
            link = match.group(1) if match else None
        assert link, f"no login link printed: {seen!r}"
        assert "new file" in seen  # the project does not exist yet
        base = link.split("/login")[0]
        with httpx.Client(timeout=10) as client:
            assert client.get(f"{base}/").status_code == 401
            response = client.get(link)
            assert response.status_code == 303
            assert client.get(f"{base}/").status_code == 200
            assert client.get(link).status_code == 303  # signed in already: back to the overview
        with httpx.Client(timeout=10) as stranger:
            assert stranger.get(link).status_code == 401  # the link was spent
            # A second browser: `lakegate studio --link` asks the running Studio for a new one.
            again = subprocess.run(
                [*command, "--link", "--no-browser"], capture_output=True, text=True, env=env,
                timeout=60,
            )  # fmt: skip
            assert again.returncode == 0, again.stderr
            fresh = re.search(r"(http://127\.0\.0\.1:\d+/login\?token=[\w-]+)", again.stdout)
            assert fresh and fresh.group(1) != link
            assert stranger.get(fresh.group(1)).status_code == 303
            assert stranger.get(f"{base}/").status_code == 200
            forged = stranger.post(f"{base}/login/new", headers={"Authorization": "Bearer x"})
            assert forged.status_code == 401 and "token" not in forged.text
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode is not None
    assert not (tmp_path / ".lakegate" / "studio.url").exists()  # gone with the Studio
    after = subprocess.run(
        [*command, "--link", "--no-browser"], capture_output=True, text=True, env=env, timeout=60
    )
    assert after.returncode == 2 and "No Studio is running" in " ".join(after.stderr.split())


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "lakegate",
                "--project",
                str(tmp_path / "x.yaml"),
                "studio",
                "--no-browser",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"Port {port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
