"""Compute: SQL warehouses, their state machine and the warehouses API."""
