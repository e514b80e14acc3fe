"""Indexing: scan sources, work out what changed, decode and embed in overlapped batches, commit."""
