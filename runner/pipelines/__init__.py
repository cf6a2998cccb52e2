"""Pipelines: stages (each an unattended session) run in dependency order."""
