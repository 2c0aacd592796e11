"""Unity Catalog: catalogs, schemas, tables and columns, functions, and grants."""
