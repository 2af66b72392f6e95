"""Matching: ranked shops for a buyer's part, batch assignment, and the default ranker."""
