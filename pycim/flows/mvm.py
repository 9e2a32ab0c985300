"""``pycim mvm``: one core MVM at transistor level, from weights and inputs to output codes.

Forward (W x): inputs drive the bit-lines (rows; G+ on row 2i, G- on row 2i+1, see
:mod:`pycim.tech.mapping`), every source-line floats and is sensed by a neuron. Backward (W^T x)
drives the source-lines of the same programmed array and senses the bit-line pairs: output i is
the difference of the neurons on rows 2i and 2i+1 (each row normalised by its own conductance
sum, so it is not forward on W^T). With ``mapping="transposable"`` each weight takes a 2x2 block
(:func:`pycim.tech.mapping.transposable_blocks`): rows and columns are both differential pairs and
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
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .. import __version__, assumptions
from ..errors import InputError
from ..measure.neuron import read_neuron
from ..netlist.array import IDEAL_ACCESS, IDEAL_WIRES, AccessSpec, ArraySpec, WireSpec, add_array
from ..netlist.circuit import Circuit, VSource
from ..netlist.core import line_driver, switch_cards, wl_driver, wl_driver_cards
from ..netlist.neuron import (NeuronSpec, add_neuron, add_schedule_sources, input_windows,
                              mvm_schedule, window_pwl)
from ..netlist.validate import ident, integer
from ..sim import NgspiceEngine, Tran, get_engine
from ..tech.mapping import physical_conductances
from .mvm_inputs import bit_planes, check_inputs, check_weights, magnitude_planes, program
from ..tech.sky130 import CORNERS

ENGINES = ("spice", "vacask", "macro")
#: row_pair: G+ on row 2i, G- on row 2i+1 (2 cells per weight, the paper's forward mapping).
#: transposable: a 2x2 block per weight, G+ on the diagonal and G- off it, so rows and columns
#: are both differential pairs: backward on W is forward on W^T (4 cells per weight).
MAPPINGS = ("row_pair", "transposable")
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


@dataclass(frozen=True)
class MvmRequest:
    weights: np.ndarray
    x: np.ndarray
    in_bits: int = 4
    out_bits: int = 6
    direction: str = "forward"
    engine: str = "spice"
    ideal: bool = False
    corner: str = "tt"
    temp_c: float = 27.0
    seed: int = 0
    vdd_v: float = assumptions.value("vdd_v")  # neuron and driver supply (PVT sweeps)
    prog_tol_s: float = 1e-6  # write-verify tolerance band of the programming model (MC)
    mapping: str = "row_pair"
    #: cells per wire R/C segment (1 = a node per cell; 16 = one per corelet: the 256 x 256
    #: transient's RC reduction, see :class:`pycim.netlist.array.WireSpec`)
    wire_segment_cells: int = 1
    #: transistor mismatch for Monte Carlo, in multiples of the PDK's Pelgrom sigma (0 = off):
    #: a per-instance delvto on every SKY130 FET, seeded by ``seed`` (pycim.netlist.mismatch)
    mismatch: float = 0.0

    def __post_init__(self) -> None:
        w = check_weights(np.asarray(self.weights))
        object.__setattr__(self, "weights", w)
        if self.direction not in ("forward", "backward"):
            raise InputError(f"--direction must be forward or backward, got {self.direction!r}")
        n_drive = w.shape[0] if self.direction == "forward" else w.shape[1]
        object.__setattr__(self, "x", check_inputs(np.asarray(self.x), n_drive, self.in_bits))
        integer(self.out_bits, "--out-bits", 1, 8)
        if self.mapping not in MAPPINGS:
            raise InputError(f"--mapping must be one of {', '.join(MAPPINGS)}, got {self.mapping!r}")
        if self.mapping == "transposable" and max(w.shape) > 128:
            raise InputError(f"--weights: shape {w.shape} exceeds one core with --mapping "
                             f"transposable (2x2 cells per weight: at most 128 x 128)")
        integer(self.wire_segment_cells, "--wire-segment-cells", 1, 256)
        if self.engine not in ENGINES:
            raise InputError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.corner not in CORNERS:
            raise InputError(f"--corner must be one of {', '.join(CORNERS)}, got {self.corner!r}")
        if not (-55 <= self.temp_c <= 150):
            raise InputError(f"--temp-c must be in -55..150, got {self.temp_c}")
        if self.seed < 0:
            raise InputError(f"--seed must be >= 0, got {self.seed}")
        if not (1.2 <= self.vdd_v <= 1.98):
            raise InputError(f"vdd_v must be in 1.2..1.98 V (SKY130 1.8 V devices), got {self.vdd_v}")
        if not (0.0 <= self.prog_tol_s <= 10e-6):
            raise InputError(f"prog_tol_s must be in 0..10e-6 S, got {self.prog_tol_s}")
        if isinstance(self.mismatch, bool) or not isinstance(self.mismatch, (int, float)) \
                or not 0.0 <= self.mismatch <= 10.0:
            raise InputError(f"mismatch must be in 0..10 (multiples of the PDK sigma), "
                             f"got {self.mismatch!r}")


def closed_form_planes(g_pos, g_neg, planes, v_read, direction, mapping="row_pair"):
    """Ideal settled line voltage minus Vref per plane: (batch, planes, n_sense).

    forward (both mappings): Vread * sum_i p_i (G+ - G-)_ij / sum_i (G+ + G-)_ij over all rows;
    backward, row_pair: V(BL 2i) - V(BL 2i+1) with V(BL r) = Vread * sum_j p_j G_rj / sum_j G_rj;
    backward, transposable: the forward form on the transposed conductances.
    """
    if direction == "forward":
        return v_read * (planes @ (g_pos - g_neg)) / (g_pos + g_neg).sum(axis=0)
    if mapping == "transposable":
        return v_read * (planes @ (g_pos - g_neg).T) / (g_pos + g_neg).sum(axis=1)
    vp = v_read * (planes @ g_pos.T) / g_pos.sum(axis=1)
    vn = v_read * (planes @ g_neg.T) / g_neg.sum(axis=1)
    return vp - vn


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
    if req.direction == "forward" or req.mapping == "transposable":
        line_planes = np.repeat(planes_row, 2, axis=1)
        line_planes[:, 1::2] *= -1
    else:
        line_planes = planes_row
    src.add(c, "neuron", VSource("VDD", "vdd", "0", dc_v=vdd),
            VSource("VREF", "vref", "0", dc_v=v_ref))
    if ideal:
        for k, ln in enumerate(drive):
            pwl = window_pwl(sched, spec, list(v_ref + v_read * line_planes[:, k]), v_ref)
            src.add(c, "array", VSource(f"VD{ln}", ln, "0", dc_v=v_ref, pwl=pwl))
    else:
        nsw, psw = switch_cards(req.corner, assumptions.value("switch_w_um"),
                                assumptions.value("switch_l_um"))
        c.add_model(nsw.model())
        c.add_model(psw.model())
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
        c.add_model(nwl.model())
        c.add_model(pwl_card.model())
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
    """Run the request; return the JSON-ready result (keys documented in the README).

    ``waveforms``, if given, receives the last vector's ``result``, ``nodes`` (one
    :class:`~pycim.netlist.neuron.NeuronNodes` per sensed line), ``schedule`` and ``spec``.
    """
    if req.engine == "macro":
        from ..macro.engine import run_macro_mvm

        return run_macro_mvm(req, progress=progress)
    w = req.weights
    prog = program(w, req.seed, noise=req.prog_tol_s > 0, tol_s=max(req.prog_tol_s, 1e-12))
    target = program(w, req.seed, noise=False)
    g_phys = physical_conductances(prog.g_pos_s, prog.g_neg_s, req.mapping)
    spec = NeuronSpec(corner=req.corner, vdd_v=req.vdd_v)
    sched = mvm_schedule(spec, req.in_bits, req.out_bits)
    v_read = assumptions.value("v_read_v")
    planes = bit_planes(req.x, req.in_bits)  # (batch, planes, n_drive)
    ideal_planes = closed_form_planes(prog.g_pos_s, prog.g_neg_s, planes, v_read, req.direction,
                                      req.mapping)
    weights_pl = 2.0 ** np.arange(magnitude_planes(req.in_bits))
    lsb_line = spec.lsb_v(req.out_bits) / spec.gain  # line-referred integrated volts per code
    y_ideal = np.einsum("bpn,p->bn", ideal_planes, weights_pl) / lsb_line
    # the same closed form on the target (unprogrammed) conductances: what the user asked for
    y_target = np.einsum("bpn,p->bn", closed_form_planes(target.g_pos_s, target.g_neg_s, planes,
                                                         v_read, req.direction, req.mapping),
                         weights_pl) / lsb_line
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
        if req.direction == "backward" and req.mapping == "row_pair":
            v_lines = v_lines[:, 0::2] - v_lines[:, 1::2]
            code = code[0::2] - code[1::2]
        v_settled.append(v_lines)
        codes.append(code)
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
        "y_ideal": y_ideal.tolist(), "y_target": y_target.tolist(), "lsb": lsb_line,
        "energy_j": e_tot, "macs": macs, "energy_per_mac_j": e_tot["total"] / macs,
        "latency_s": sched.t_stop, "engine": req.engine, "pycim_version": __version__,
        "in_bits": req.in_bits, "out_bits": req.out_bits, "direction": req.direction,
        "ideal": req.ideal, "corner": req.corner, "temp_c": req.temp_c, "seed": req.seed,
        "mapping": req.mapping,
        "y_ideal_planes_v": ideal_planes.tolist(), "wall_s": time.perf_counter() - t0,
    }
