"""Packaged data files (``programming_error.json``: the write-verify programming error)."""
