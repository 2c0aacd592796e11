"""Delta Lake's table features on DuckDB: informational keys (`keys`), identity columns
(`identity`), the table log of properties, layout and history (`tablelog`), and the statements
that read and maintain it (`commands`); all kept in the engine's own database or in DuckDB's
own catalog, as Databricks answers them."""
