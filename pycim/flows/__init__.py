"""Flows: end-to-end jobs (spec -> netlist -> sim -> measure) behind the CLI commands."""
