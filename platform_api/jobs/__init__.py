"""Background jobs in the database: history imports and training, run by worker threads."""
