"""Persistence: engine, sessions, tables and migrations. The only package that speaks SQL types."""
