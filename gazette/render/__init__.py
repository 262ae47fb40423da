"""Render stage: a resolved Site -> output files (bytes), written by the writer."""
