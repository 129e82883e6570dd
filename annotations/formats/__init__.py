"""Nexus annotation formats: a plain-Python library, no Django.

Records (`records.py`) are the one in-memory shape every reader and writer shares; the registry
(`registry.py`) names every format module; `pipeline.py` does clamping, normalisation, renaming,
splitting and the zip layout once, for all formats.
"""
