"""``pycim mvm --engine``: one request, three engines. The SPICE flow and the macro-model are
siblings; this module is the only place that chooses between them."""

from __future__ import annotations

from .cim.request import MvmRequest


def run_mvm(req: MvmRequest, progress: bool = True, waveforms: dict | None = None,
            jobs: int = 1) -> dict:
    """Run ``req`` on its engine: ``spice``/``vacask`` (transistor level, :mod:`pycim.flows.mvm`)
    or ``macro`` (the fitted numpy model, :mod:`pycim.macro.engine`). Same keys either way.
    ``jobs``: worker processes for a partitioned transistor-level request's neuron banks."""
    if req.engine == "macro":
        from .macro.engine import run_macro_mvm

        return run_macro_mvm(req, progress=progress)
    from .flows.mvm import run_mvm as run_spice

    return run_spice(req, progress=progress, waveforms=waveforms, jobs=jobs)


__all__ = ["MvmRequest", "run_mvm"]
