"""Derived caches (shop profiles, machine loads), kept by a background refresher, not reads."""
