"""Traces and metrics: the session trace registry and the Prometheus metric catalogue."""
