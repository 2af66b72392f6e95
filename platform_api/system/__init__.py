"""Liveness, readiness and metrics endpoints, and the request middleware."""
