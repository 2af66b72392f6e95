"""Capability profiles, capacity and supplier ranking. Pure Python: no web or DB."""
