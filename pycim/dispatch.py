"""``pycim mvm --engine``: one request, three engines. The SPICE flow and the macro-model are
siblings; this module is the only place that chooses between them."""

from __future__ import annotations

from .cim.request import MvmRequest


def run_mvm(req: MvmRequest, progress: bool = True, waveforms: dict | None = None,
            jobs: int = 1, model=None) -> dict:
    """Run ``req`` on its engine: ``spice``/``vacask`` (transistor level, :mod:`pycim.flows.mvm`)
    or ``macro`` (the fitted numpy model, :mod:`pycim.macro.engine`). Same keys either way.
    ``jobs``: worker processes for a partitioned transistor-level request's neuron banks.
    ``model``: the macro engine's :class:`pycim.macro.model.MacroModel` (None: the packaged
    default); refused with the other engines."""
    if req.engine == "macro":
        from .macro.engine import run_macro_mvm

        return run_macro_mvm(req, progress=progress, model=model)
    if model is not None:
        from .errors import InputError

        raise InputError(f"a macro-model is for --engine macro, not {req.engine}")
    from .flows.mvm import run_mvm as run_spice

    return run_spice(req, progress=progress, waveforms=waveforms, jobs=jobs)


__all__ = ["MvmRequest", "run_mvm"]
