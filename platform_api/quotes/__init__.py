"""Quotes of stored parts, priced by the default model or a shop's own, and their outcomes."""
