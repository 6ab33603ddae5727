"""Duplicates: the real-time matcher, scans, the merge queue, merges and their undo."""
