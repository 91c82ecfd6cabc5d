"""Container server: one SQLite database per container."""
