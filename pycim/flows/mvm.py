"""``pycim mvm``: one core MVM at transistor level, from weights and inputs to output codes.

Forward (W x): inputs drive the bit-lines (rows; G+ on row 2i, G- on row 2i+1, see
:mod:`pycim.cim.mapping`), every source-line floats and is sensed by a neuron. Backward (W^T x)
drives the source-lines of the same programmed array and senses the bit-line pairs: output i is
the difference of the neurons on rows 2i and 2i+1 (each row normalised by its own conductance
sum, so it is not forward on W^T). With ``mapping="transposable"`` each weight takes a 2x2 block
(:func:`pycim.cim.mapping.transposable_blocks`): rows and columns are both differential pairs and
backward on W is forward on W^T (4 cells per weight instead of 2).

Per input magnitude bit plane n (LSB first) the drivers put Vref + Vread (bit set, x > 0),
Vref - Vread (bit set, x < 0) or Vref (bit clear) on every driven line for 2^(n-1) input windows
of the neuron's schedule (:func:`pycim.netlist.neuron.mvm_schedule`); between windows they hold
Vref. Word-lines pulse high during each window. The sensed lines' own drivers hold them at Vref
between windows and let them float during a window. The sensed lines float and settle to the
conductance-weighted average; the neuron samples, integrates and converts them.

Energy is the time integral of V*I of every source in the circuit, grouped by what it powers:
``array`` (input rails or ideal row sources: the energy that flows through the cells),
``drivers`` (gate controls of the driver switches), ``wordlines`` (WL rail and WL controls),
``neuron`` (supply, reference, clocks and DAC references of the neurons).
"""

from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from .. import __version__, assumptions
from ..cim.closed_form import pair_difference
from ..cim.encoding import line_planes as signed_line_planes
from ..cim.mapping import physical_conductances
from ..cim.request import MvmRequest, prepare
from ..errors import InputError
from ..measure.neuron import read_neuron
from ..netlist.array import IDEAL_ACCESS, IDEAL_WIRES, AccessSpec, ArraySpec, WireSpec, add_array
from ..netlist.circuit import Circuit, VSource
from ..netlist.core import line_driver, switch_cards, wl_driver, wl_driver_cards
from ..netlist.sky130_cards import card_model
from ..netlist.neuron import (NeuronSpec, add_neuron, input_windows,
                              mvm_schedule, window_pwl)
from ..sim import NgspiceEngine, Tran, get_engine

#: Largest transient step. Measured on the 16 x 16 4-bit MVM: 2 ns and 5 ns give identical codes
#: (33.6 s -> 24.7 s), 10 ns moves one code by 1 LSB.
MAX_STEP_S = 5e-9
#: ngspice device bypass: skip re-evaluating a transistor whose terminal voltages did not move
#: (most array cells between edges). Measured on the 16 x 16 MVM: 28.5 s -> 23.7 s.
MVM_OPTIONS = {"bypass": 1}


def mvm_access_spec(corner: str) -> AccessSpec:
    """The MVM's access FET: the PDK card without BSIM4's body resistance network (three
    nodes fewer per cell; measured on the 16 x 16 4-bit MVM: settled lines within 8 uV, energy
    within 0.03 %, 30.5 s -> 27.6 s; 256 x 256 core: 475 k equations -> about 280 k)."""
    return AccessSpec(corner=corner, body_network=False)


class _Sources:
    """Collects every source with its energy group."""

    def __init__(self) -> None:
        self.group: dict[str, str] = {}

    def add(self, c: Circuit, group: str, *srcs: VSource) -> None:
        c.add(*srcs)
        for s in srcs:
            self.group[s.name.lower()] = group


def build_circuit(req: MvmRequest, g_phys: np.ndarray, planes_row: np.ndarray,
                  spec: NeuronSpec, sched) -> tuple[Circuit, list[str], _Sources]:
    """The MVM transient circuit for one input vector. ``planes_row``: (planes, n_drive_lines)
    in {-1, 0, 1}. Returns (circuit, sensed line nodes, source groups)."""
    ideal = req.ideal
    arr = ArraySpec(g_phys, cell="linear" if ideal else "rram_read",
                    access=IDEAL_ACCESS if ideal else mvm_access_spec(req.corner),
                    wire=IDEAL_WIRES if ideal else WireSpec(segment_cells=req.wire_segment_cells),
                    name="mvm")
    c = Circuit(f"pycim mvm {arr.rows}x{arr.cols} {req.direction}",
                header=(f"pycim {__version__} array sha256 {arr.digest()}",))
    add_array(c, arr)
    src = _Sources()
    v_ref, v_read, vdd = spec.v_ref_v, arr.v_read_v, spec.vdd_v
    if req.direction == "forward":
        drive = [f"bl{r}" for r in range(arr.rows)]
        sense = [f"sl{j}" for j in range(arr.cols)]
    else:
        drive = [f"sl{j}" for j in range(arr.cols)]
        sense = [f"bl{r}" for r in range(arr.rows)]
    # the pattern of each physical drive line per plane: forward rows are signed pairs, and so
    # are backward columns in the transposable mapping
    line_planes = signed_line_planes(planes_row, req.direction, req.mapping)
    src.add(c, "neuron", VSource("VDD", "vdd", "0", dc_v=vdd),
            VSource("VREF", "vref", "0", dc_v=v_ref))
    if ideal:
        for k, ln in enumerate(drive):
            pwl = window_pwl(sched, spec, list(v_ref + v_read * line_planes[:, k]), v_ref)
            src.add(c, "array", VSource(f"VD{ln}", ln, "0", dc_v=v_ref, pwl=pwl))
    else:
        nsw, psw = switch_cards(req.corner, assumptions.value("switch_w_um"),
                                assumptions.value("switch_l_um"))
        c.add_model(card_model(nsw))
        c.add_model(card_model(psw))
        src.add(c, "array", VSource("VPOS", "vpos", "0", dc_v=v_ref + v_read),
                VSource("VNEG", "vneg", "0", dc_v=v_ref - v_read),
                VSource("VREFD", "vrefd", "0", dc_v=v_ref))
        rails = {"p": "vpos", "n": "vneg", "z": "vrefd"}
        for k, ln in enumerate(drive):
            lp = line_planes[:, k]
            on = {"p": window_pwl(sched, spec, [vdd if v > 0 else 0.0 for v in lp], 0.0),
                  "n": window_pwl(sched, spec, [vdd if v < 0 else 0.0 for v in lp], 0.0),
                  "z": window_pwl(sched, spec, [vdd if v == 0 else 0.0 for v in lp], vdd)}
            for e in line_driver(ln, on, rails, nsw, psw, vdd):
                src.add(c, "drivers", e) if isinstance(e, VSource) else c.add(e)
        # sensed lines: their own driver holds them at Vref between input windows (precharge)
        # and floats them during a window, so the WL edges cannot kick a floating line
        # below ground (measured without it: -1.0 V from Vref between windows)
        hold = window_pwl(sched, spec, [0.0] * line_planes.shape[0], vdd)
        for ln in sense:
            for e in line_driver(ln, {"z": hold}, {"z": "vrefd"}, nsw, psw, vdd):
                src.add(c, "drivers", e) if isinstance(e, VSource) else c.add(e)
        # word-lines: a 5 V inverter per row between the WL rail and ground, pulsed per window
        v_wl = assumptions.value("v_wl_read_v")
        nwl, pwl_card = wl_driver_cards(req.corner)
        c.add_model(card_model(nwl))
        c.add_model(card_model(pwl_card))
        src.add(c, "wordlines", VSource("VWLH", "vwlh", "0", dc_v=v_wl))
        wc = window_pwl(sched, spec, [0.0] * line_planes.shape[0], v_wl)  # input low = WL high
        for r in range(arr.rows):
            for e in wl_driver(r, wc, nwl, pwl_card):
                src.add(c, "wordlines", e) if isinstance(e, VSource) else c.add(e)
    sched_srcs = sched.sources()
    src.add(c, "neuron", *sched_srcs)
    # transposable: the odd lines hold the negated copy; only the even ones get a neuron
    neuron_lines = sense[0::2] if req.mapping == "transposable" else sense
    nodes = [add_neuron(c, spec, f"n{k}_", ln, sched) for k, ln in enumerate(neuron_lines)]
    return c, nodes, src


def energy_by_group(res, circuit: Circuit, groups: dict[str, str]) -> dict[str, float]:
    """Energy delivered by each source, -integral(V * i) (SPICE: i flows into the + node),
    summed per group; also ``total``."""
    t = res["time"]
    out: dict[str, float] = {}
    for e in circuit.iter_elements():
        if not isinstance(e, VSource):
            continue
        name = e.name.lower()
        v = res[e.np_] if e.np_ != "0" else 0.0
        if e.nn != "0":
            v = v - res[e.nn]
        p = -np.asarray(v) * res[f"i({name})"]
        out[groups.get(name, "neuron")] = out.get(groups.get(name, "neuron"), 0.0) + float(
            np.trapezoid(p, t))
    out["total"] = sum(v for k, v in out.items())
    return out


def _saved_vectors(c: Circuit, nodes, spec: NeuronSpec) -> list[str]:
    """What measurement needs: sensed lines, neuron outputs and latches, DAC references (for
    plots), and every source's terminals and current (energy)."""
    out = []
    for nd in nodes:
        out += [nd.line, nd.out, nd.q, nd.qb] + ([nd.sign_q] if nd.sign_q else [])
    out += [spec.net("vdacp"), spec.net("vdacn")]
    for e in c.iter_elements():
        if isinstance(e, VSource):
            out += [n for n in (e.np_, e.nn) if n != "0"] + [f"i({e.name.lower()})"]
    return out


def run_mvm(req: MvmRequest, progress: bool = True, waveforms: dict | None = None) -> dict:
    """Run the request at transistor level (engine ``spice`` or ``vacask``); return the JSON-ready
    result (keys documented in the README). :func:`pycim.dispatch.run_mvm` also takes ``macro``.

    ``waveforms``, if given, receives the last vector's ``result``, ``nodes`` (one
    :class:`~pycim.netlist.neuron.NeuronNodes` per sensed line), ``schedule`` and ``spec``.
    """
    if req.engine not in ("spice", "vacask"):
        raise InputError(f"the SPICE flow runs engine spice or vacask, got {req.engine!r} "
                         f"(pycim.dispatch.run_mvm picks the macro-model)")
    w = req.weights
    spec = NeuronSpec(corner=req.corner, vdd_v=req.vdd_v)
    sched = mvm_schedule(spec, req.in_bits, req.out_bits)
    v_read = assumptions.value("v_read_v")
    lsb_line = spec.lsb_v(req.out_bits) / spec.gain  # line-referred integrated volts per code
    pb = prepare(req, lsb_line, v_read)
    prog, planes = pb.prog, pb.planes
    g_phys = physical_conductances(prog.g_pos_s, prog.g_neg_s, req.mapping)
    engine = (NgspiceEngine(timeout_s=3600, options=MVM_OPTIONS) if req.engine == "spice"
              else get_engine("vacask", timeout_s=3600))
    wins = input_windows(sched)
    t_first = {n: t_off for n, r, _, t_off in wins if r == 0}
    v_settled, codes, energies = [], [], []
    t0 = time.perf_counter()
    for b in tqdm(range(req.x.shape[0]), desc="mvm", unit="vector", disable=not progress):
        c, nodes, src = build_circuit(req, g_phys, planes[b], spec, sched)
        if req.mismatch > 0:
            from ..netlist.mismatch import apply_mismatch

            apply_mismatch(c, req.seed, req.mismatch)
        res = engine.run(c, Tran(1e-9, sched.t_stop, MAX_STEP_S), temp_c=req.temp_c,
                         save=_saved_vectors(c, nodes, spec))
        t = res["time"]
        v_lines = np.array([[np.interp(t_first[n], t, res[nd.line]) for nd in nodes]
                            for n in sorted(t_first)]) - spec.v_ref_v
        code = np.array([read_neuron(res, sched, nd, spec).code for nd in nodes])
        v_settled.append(pair_difference(v_lines, req.direction, req.mapping))
        codes.append(pair_difference(code, req.direction, req.mapping))
        energies.append(energy_by_group(res, c, src.group))
        if waveforms is not None:
            waveforms.update(result=res, nodes=nodes, schedule=sched, spec=spec)
    e_tot = {k: float(sum(e[k] for e in energies)) for k in energies[0]}
    macs = int(req.x.shape[0] * w.shape[0] * w.shape[1])
    return {
        "g_pos_s": prog.g_pos_s.tolist(), "g_neg_s": prog.g_neg_s.tolist(),
        "v_read_v": v_read, "v_ref_v": spec.v_ref_v, "x": req.x.tolist(),
        "v_settled_v": [v.tolist() for v in v_settled],
        "code": [c_.astype(int).tolist() for c_ in codes],
        "y_ideal": pb.y_ideal.tolist(), "y_target": pb.y_target.tolist(), "lsb": lsb_line,
        "energy_j": e_tot, "macs": macs, "energy_per_mac_j": e_tot["total"] / macs,
        "latency_s": sched.t_stop, "engine": req.engine, "pycim_version": __version__,
        "in_bits": req.in_bits, "out_bits": req.out_bits, "direction": req.direction,
        "ideal": req.ideal, "corner": req.corner, "temp_c": req.temp_c, "seed": req.seed,
        "mapping": req.mapping,
        "y_ideal_planes_v": pb.ideal_planes_v.tolist(), "wall_s": time.perf_counter() - t0,
    }
