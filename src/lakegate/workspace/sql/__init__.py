"""SQL: the DuckDB engine and its Databricks translation, the Statement Execution API, SQL
sessions, results and links, query history, saved queries and the Thrift endpoint."""
