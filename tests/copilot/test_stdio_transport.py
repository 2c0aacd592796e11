"""stdio keeps stdout for the protocol: stray prints go to stderr, long lines stay whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    import mcp_types as types
    from mcp.shared.message import SessionMessage
    from lakegate.copilot.stdio import fast_stdio_server

    async def main():
        async with fast_stdio_server() as (read, write):
            print("stray print")                 # must not reach the protocol stream
            os.write(1, b"stray fd write\\n")    # nor a raw write on fd 1
            async for message in read:
                request = message.message
                reply = types.JSONRPCResponse(
                    jsonrpc="2.0", id=request.id, result={"echo": request.params}
                )
                await write.send(SessionMessage(reply))
                break
            await write.aclose()  # as the server does when it is done: ends the writer

    asyncio.run(main())
    """
)


def _clean_env() -> dict[str, str]:
    """The environment without the PYTHON* settings (PYTHONUNBUFFERED hid a bug): a new user's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def test_only_protocol_lines_reach_stdout() -> None:
    big = "x" * 200_000  # longer than asyncio's default line limit
    request = {"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"big": big}}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=json.dumps(request) + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        env=_clean_env(),
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {"jsonrpc": "2.0", "id": 7, "result": {"echo": {"big": big}}}
    assert "stray print" in out.stderr and "stray fd write" in out.stderr


def test_stdout_as_a_regular_file_falls_back_to_the_sdk_server(tmp_path) -> None:
    request = {"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {"x": 1}}
    given, got = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    given.write_text(json.dumps(request) + "\n")
    with given.open() as stdin, got.open("w") as stdout:
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            env=_clean_env(),
        )
    assert out.returncode == 0, out.stderr
    replies = [json.loads(line) for line in got.read_text().splitlines()]  # nothing stray
    assert replies == [{"jsonrpc": "2.0", "id": 3, "result": {"echo": {"x": 1}}}]
    assert "stray print" in out.stderr
