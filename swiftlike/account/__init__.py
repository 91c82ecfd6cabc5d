"""Account server: one SQLite database per account."""
