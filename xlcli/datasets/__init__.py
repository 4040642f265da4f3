"""Readers that turn benchmark files into plain records (no store access here)."""
