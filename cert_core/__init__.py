"""Shared ground for every layer: settings and the errors they name.

It imports nothing of the project, so ingest/, retrieval/ and every entry point can use it.
"""
