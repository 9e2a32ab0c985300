"""Measurements: from waveforms to numbers."""
