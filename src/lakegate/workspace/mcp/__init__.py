"""The managed MCP servers: /api/2.0/mcp/sql and the functions of a schema as tools."""
