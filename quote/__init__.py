"""Mitsumori quote engine: part files and specs in, priced quotes out. Pure Python: no web or DB."""
