"""Organisations (shops, buyers, the admin) and their API keys."""
