"""Stimulus layer on top of an assembled core (:func:`pycim.netlist.core.assemble_core`).

Two stimuli: DC levels (``pycim netlist core``: every line in a state p/n/z/f, WLs on or off,
the neuron clocks at their reset levels) and the MVM transient (per input bit plane, the line
drivers and WLs follow the neuron's schedule; the neuron clocks are the schedule's sources).
Every source goes into the circuit after the :data:`~pycim.netlist.core.STIMULUS_MARK` comment,
with its energy group.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from .. import assumptions
from ..errors import InputError
from .circuit import Comment, VSource
from .core import RAILS, STATES, STIMULUS_MARK, CoreCircuit
from .neuron import window_pwl
from .schedule import LOGIC, Schedule, schedule_sources

Level = float | tuple[tuple[float, float], ...]  # DC volts or PWL points
#: The word-lines turn on this long before each read pulse: their turn-on kick on the sensed
#: lines (~1 V on a floating 256-row line, benchmarks/read_settling.py) lands while the lines'
#: drivers still hold them at Vref, not in the pulse the hold capacitor tracks.
WL_LEAD_S = assumptions.value("wl_lead_s")


def _source(name: str, net: str, level: Level) -> VSource:
    """A source at ``level``: PWL points, written as DC when every point has the same value (a
    control that does not move during this MVM, e.g. the ``n`` switch of a line whose input
    is never negative: the same waveform without a PWL to evaluate at every iteration)."""
    if isinstance(level, tuple):
        if any(v != level[0][1] for _, v in level):
            return VSource(name, net, "0", dc_v=level[0][1], pwl=level)
        level = level[0][1]
    return VSource(name, net, "0", dc_v=float(level))


def _complement(level: Level, vdd: float) -> Level:
    if isinstance(level, tuple):
        return tuple((t, vdd - v) for t, v in level)
    return vdd - float(level)


def line_controls(ln: str, on: Mapping[str, Level], vdd: float) -> Iterator[VSource]:
    """Gate sources of line ``ln``'s driver: ``VC<ln>_<s>`` at ``on[s]`` (a state is selected
    while high) and ``VC<ln>_<s>b`` at its complement, for s in p, n, z."""
    for s in RAILS:
        yield _source(f"VC{ln}_{s}", f"c{ln}_{s}", on[s])
        yield _source(f"VC{ln}_{s}b", f"c{ln}_{s}b", _complement(on[s], vdd))


def mark_stimulus(core: CoreCircuit) -> None:
    """Write the :data:`~pycim.netlist.core.STIMULUS_MARK` comment (the core circuit ends)."""
    core.circuit.add_stream(lambda: iter((Comment(STIMULUS_MARK),)))


def add_dc_stimulus(core: CoreCircuit, states: Mapping[str, str] | None = None,
                    wl_on: bool = True, sched: Schedule | None = None) -> None:
    """DC controls: ``states[line]`` in p/n/z/f (drive lines default ``z``, sensed lines
    ``f``); WLs on or off; neuron clocks (if the core has neurons) at their levels at t = 0 of
    ``sched`` (the reset phase), as DC sources."""
    spec = core.spec
    a = spec.array
    st = {ln: "z" for ln in spec.drive_lines} | {ln: "f" for ln in spec.sense_lines}
    for k, v in (states or {}).items():
        if k not in st:
            raise InputError(f"unknown line {k!r} (have bl0..bl{a.rows - 1}, sl0..sl{a.cols - 1})")
        if v not in STATES:
            raise InputError(f"line state must be one of {STATES}, got {v!r}")
        st[k] = v
    mark_stimulus(core)
    lines = spec.lines
    if spec.driver == "ideal":
        rail_v = {"p": spec.v_ref_v + a.v_read_v, "n": spec.v_ref_v - a.v_read_v,
                  "z": spec.v_ref_v}
        core.add_sources("array", lambda: (VSource(f"VD{ln}", ln, "0", dc_v=rail_v[st[ln]])
                                           for ln in lines if st[ln] != "f"))
        if spec.has_wl:
            core.add_sources("wordlines", lambda: (
                VSource(f"VW{r}", f"wl{r}", "0", dc_v=spec.v_wl_v if wl_on else spec.v_wl_low_v)
                for r in range(a.rows)))
    else:
        vdd = spec.vdd_v
        core.add_sources("drivers", lambda: (
            s for ln in lines
            for s in line_controls(ln, {k: vdd if st[ln] == k else 0.0 for k in RAILS}, vdd)))
        if spec.has_wl:
            core.add_sources("wordlines", lambda: (
                VSource(f"VWC{r}", f"wc{r}", "0", dc_v=0.0 if wl_on else spec.v_wl_v)
                for r in range(a.rows)))
    if spec.neuron is not None:
        if sched is None:
            raise InputError("a core with neurons needs the schedule whose t = 0 levels hold "
                             "its clocks")
        core.add_sources("neuron", lambda: (VSource(s.name, s.np_, s.nn, dc_v=s.dc_v)
                                            for s in schedule_sources(sched)))


def add_mvm_stimulus(core: CoreCircuit, line_planes: np.ndarray, sched: Schedule) -> None:
    """The MVM transient's stimulus for one input vector. ``line_planes``: (planes,
    n_drive_lines) in {-1, 0, +1}, the level of each physical drive line per magnitude plane.

    The chip's scheme (issue 17): drive lines select ``p`` / ``n`` / ``z`` during the plane's
    ONE read pulse (:func:`~pycim.specs.neuron.input_windows`; Vref otherwise) and the WLs are
    on only then, turning off one edge before the drivers; each sensed line floats during the
    pulse (its neurons' track switch copies it onto C_hold and opens before the WLs turn off)
    and is held at Vref by its ``z`` switch otherwise. The neuron clocks are the schedule's
    sources."""
    spec = core.spec
    nspec = spec.neuron
    if nspec is None:
        raise InputError("the MVM stimulus needs a core with neurons")
    lp = np.asarray(line_planes, dtype=float)
    drive = spec.drive_lines
    if lp.ndim != 2 or lp.shape[1] != len(drive):
        raise InputError(f"line_planes must be (planes, {len(drive)}), got {lp.shape}")
    if not np.all(np.isin(lp, (-1.0, 0.0, 1.0))):
        raise InputError("line_planes must hold -1, 0 or +1")
    mark_stimulus(core)
    n_pl = lp.shape[0]
    v_ref, v_read, vdd = spec.v_ref_v, spec.array.v_read_v, spec.vdd_v
    if spec.driver == "ideal":
        core.add_sources("array", lambda: (
            _source(f"VD{ln}", ln, window_pwl(sched, nspec, list(v_ref + v_read * lp[:, k]), v_ref))
            for k, ln in enumerate(drive)))
        if spec.has_wl:
            wl = window_pwl(sched, nspec, [spec.v_wl_v] * n_pl, spec.v_wl_low_v, nspec.t_edge_s,
                            WL_LEAD_S)
            core.add_sources("wordlines", lambda: (_source(f"VW{r}", f"wl{r}", wl)
                                                   for r in range(spec.array.rows)))
    else:
        def drivers():
            for k, ln in enumerate(drive):
                v = lp[:, k]
                on = {"p": window_pwl(sched, nspec, [vdd if x > 0 else 0.0 for x in v], 0.0),
                      "n": window_pwl(sched, nspec, [vdd if x < 0 else 0.0 for x in v], 0.0),
                      "z": window_pwl(sched, nspec, [vdd if x == 0 else 0.0 for x in v], vdd)}
                yield from line_controls(ln, on, vdd)
            hold = {"p": 0.0, "n": 0.0, "z": window_pwl(sched, nspec, [0.0] * n_pl, vdd)}
            for ln in spec.sense_lines:
                yield from line_controls(ln, hold, vdd)
        core.add_sources("drivers", drivers, logic=lambda src: src.name.startswith("VC"))
        if spec.has_wl:
            # input low = WL high; the WLs turn on WL_LEAD_S before the drivers switch and the
            # sensed lines are released, and turn off one edge before the drivers return to Vref
            wc = window_pwl(sched, nspec, [0.0] * n_pl, spec.v_wl_v, nspec.t_edge_s, WL_LEAD_S)
            core.add_sources("wordlines", lambda: (_source(f"VWC{r}", f"wc{r}", wc)
                                                   for r in range(spec.array.rows)), logic=True)

    skip = (() if spec.neuron_part == "full"
            else [n for n in sched.nets if n not in front_clocks(spec)])
    add_schedule_stimulus(core, sched, skip)


def front_clocks(spec) -> list[str]:
    """The schedule nets the neuron front ends of a core (:class:`~pycim.netlist.core.CoreSpec`
    with ``neuron_part`` "front" or "front_sampling", the array stage of a partitioned MVM)
    use: the track clock, and with "front_sampling" the sampling switches' clocks."""
    k = spec.neuron.net
    if spec.neuron_part == "front_sampling":
        return [k("trk"), k("s1a"), k("s2a")]
    if spec.neuron_part == "front":
        return [k("trk")]
    raise InputError("front_clocks: a core of full neurons uses every clock")


def add_schedule_stimulus(core: CoreCircuit, sched: Schedule, skip=()) -> None:
    """The schedule's sources (all nets but ``skip``) in the ``neuron`` group; its logic nets
    and their complements count as logic (:func:`~pycim.measure.energy.energy_by_group`), its
    analog nets (the DAC pair) as sources."""
    def clock(src) -> bool:  # the schedule's logic nets (and complements), not its DAC pair
        net = sched.nets.get(src.np_.removesuffix("_b"))
        return net is not None and net.kind == LOGIC
    core.add_sources("neuron", lambda: schedule_sources(sched, skip), logic=clock)


def add_line_sources(core: CoreCircuit, line_pwl: Mapping[str, tuple]) -> None:
    """Ideal sources ``VLN<line>`` putting each line of ``line_pwl`` (line -> PWL points) at a
    recorded waveform: the boundary of a partitioned MVM's neuron stage, group ``interface``
    (not counted as energy: the array stage counts what the lines draw).

    Without breakpoints at the waveform's points (``VSource(breakpoints=False)``): the
    schedule's clock edges set the neuron stage's time points, as in the full deck. With a
    breakpoint at every recorded point the 16 x 16 MVM's banks took ~2600 points instead of
    ~1760 and their integrators sat up to 0.029 conversion LSB off the full deck's, against
    0.010 without (``benchmarks/partition_error.py 16 16 --bank 4``)."""
    core.add_sources("interface", lambda: (
        VSource(f"VLN{ln}", ln, "0", dc_v=pts[0][1], pwl=tuple(pts), breakpoints=False)
        for ln, pts in line_pwl.items()))
