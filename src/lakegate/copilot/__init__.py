"""The copilot server: actions as MCP tools, the copilot policy, and the audit log."""
