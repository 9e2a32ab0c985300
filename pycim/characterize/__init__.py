"""Characterization harness behind ``pycim sweep``: declarative TOML specs (:mod:`.spec`), a
cached, resumable process-pool runner (:mod:`.runner`), per-kind simulations (:mod:`.kinds`),
measurements (:mod:`.measure`), tables and plots."""

from .runner import SweepReport, run_points, run_sweep, sweep_into
from .spec import KINDS, SweepSpec, load_spec, parse_spec

__all__ = ["KINDS", "SweepReport", "SweepSpec", "load_spec", "parse_spec", "run_points", "run_sweep",
           "sweep_into"]
