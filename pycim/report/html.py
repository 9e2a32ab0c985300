"""One self-contained HTML page: tables, embedded PNG plots, no external resources.

A tiny inline script records script errors (including image load failures) and, on ``load``,
writes how many ``<img>`` decoded (``complete`` and ``naturalWidth > 0``) into
``#pycim-check``; the headless-browser test reads it back with ``--dump-dom``.
"""

from __future__ import annotations

import base64
from html import escape

from . import data, paper

CHECK_SCRIPT = """
window.__pycimErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__pycimErrors.push(t && t.tagName ? ('resource ' + t.tagName) : String(e.message));
}, true);
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; }
  }
  var el = document.getElementById('pycim-check');
  el.setAttribute('data-images', String(imgs.length));
  el.setAttribute('data-decoded', String(ok));
  el.setAttribute('data-errors', String(window.__pycimErrors.length));
  el.textContent = 'images decoded: ' + ok + ' / ' + imgs.length + '; script errors: ' +
    window.__pycimErrors.length;
});
"""

CSS = """
body { font-family: sans-serif; max-width: 1250px; margin: 1em auto; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f0f0; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #555; }
.src { font-size: 0.78em; color: #555; }
#pycim-check { font-size: 0.75em; color: #888; }
"""


def _f(v, fmt=".3g") -> str:
    return format(v, fmt)


class Raw(str):
    """A table cell that is already HTML (built here, its data strings escaped)."""


def _src(*texts) -> Raw:
    """A citation cell: the texts escaped, joined by "; "."""
    return Raw(f'<span class="src">{"; ".join(escape(str(t)) for t in texts)}</span>')


def _code(text) -> Raw:
    return Raw(f"<code>{escape(str(text))}</code>")


def _table(head, rows, num_cols=()) -> str:
    """An HTML table; every cell is escaped (str of it) unless it is :class:`Raw`."""
    h = "".join(f"<th>{escape(str(c))}</th>" for c in head)
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            cls = ' class="n"' if i in num_cols else ""
            cells.append(f"<td{cls}>{c if isinstance(c, Raw) else escape(str(c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{h}</tr>{''.join(body)}</table>"


def _img(pid: str, caption: str, png: bytes) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return (f'<figure id="fig-{escape(pid)}"><img alt="{escape(caption)}" '
            f'src="data:image/png;base64,{b64}"><figcaption>{escape(caption)}</figcaption>'
            f"</figure>")


def render_html(nums: dict, plots: list[tuple[str, str, bytes]], build_s: float = 0.0) -> str:
    figs = {pid: _img(pid, cap, png) for pid, cap, png in plots}
    bits = [str(b) for b in range(1, 9)]
    P = nums["paper"]
    fit = nums["fit"]
    parts = [f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>pycim: NeuRRAM energy report</title>
<style>{CSS}</style>
<script>{CHECK_SCRIPT}</script>
</head><body>
<h1>Energy per MAC, TOPS/W, latency and breakdown vs NeuRRAM</h1>
<p>Reference: {escape(paper.PAPER)}. Paper numbers (Extended Data Fig. 12b-d) are read from
{escape(paper.CIMLOOP_TESTS)}; every one carries its citation below. 1 MAC = 2 ops.</p>
<h2>What is measured and what is modelled</h2>
<ul>
<li><b>Transistor level (measured)</b>: {len(nums['measured'])} MVMs in ngspice
(<code>energy_per_mac</code> sweep kind, <code>characterization/report.toml</code>), SKY130
drivers and access FETs, RRAM read cells, wire R/C, transistor-level neurons, at sizes
{escape(', '.join(f'{a}x{b}' for a, b in fit['sizes']))} (n_in x n_out weights, 2 n_in rows),
input bits {escape(str(fit['in_bits']))}. Energy is the integral of V·I of every source.
Results: <code>{escape(nums['results_dir'])}</code> (manifest sha256
<code>{escape(nums['results_manifest_sha256'][:16])}</code>).</li>
<li><b>Core (256 x 256, fitted model)</b>: the energy formula of
<code>pycim.macro.model.MacroModel</code> (per-row, per-column, per-cell and per-latency terms of
each source group) with coefficients fitted to those MVMs, evaluated at 128 inputs x 256 outputs
(32768 MACs). Fit residual of the total: rms {100 * fit['residuals']['total']['rms_rel']:.2f} %,
max {100 * fit['residuals']['total']['max_rel']:.2f} % over {escape(str(fit['residuals']['total']['n']))}
MVMs.</li>
<li><b>Chip (48 cores)</b>: 48 cores in parallel: the core's energy per MAC (no chip I/O or
controller simulated), 48 x its throughput. The headline numbers below are at this level, like
the paper's.</li>
<li>Latency is the neuron schedule of the simulated netlists (transistor level, exact).</li>
</ul>
<p>{escape(nums['level'])}</p>
<p id="extrapolation">{"<b>Extrapolated:</b> " if nums.get("extrapolated_in_bits") else ""}{
escape(nums.get("extrapolation_note", ""))}.</p>
"""]
    # headline table
    rows = []
    extrapolated = {str(b) for b in nums.get("extrapolated_in_bits", ())}
    for b in bits:
        pt = P["tops_per_w"][b]
        rows.append([b + (" (extrapolated)" if b in extrapolated else ""),
                     f"{nums['out_bits'][b]} (paper {P['out_bits'][b]})",
                     _f(pt["value"]), _f(nums["tops_per_w"][b]),
                     _f(nums["ratio_sim_over_paper"]["tops_per_w"][b]),
                     _f(P["energy_per_mac_j"][b]["value"] * 1e15),
                     _f(nums["energy_per_mac_j"][b] * 1e15),
                     nums["explanations"][b], _src(pt["source"], pt["note"])])
    parts.append("<h2>TOPS/W and energy per MAC per input width</h2>")
    parts.append(_table(["in bits", "out bits (sim)", "paper TOPS/W", "sim TOPS/W (chip)",
                         "sim / paper", "paper fJ/MAC", "sim fJ/MAC", "why the gap",
                         "paper source"], rows, num_cols=(2, 3, 4, 5, 6)))
    parts.append(figs["efficiency"])
    parts.append(figs["ratio"])
    parts.append("<p>Simulated TOPS/W falls with input bits as the paper's does: every extra "
                 "magnitude bit doubles the integration windows, and the neurons burn their "
                 "bias for the whole, longer MVM.</p>")
    parts.append(figs["in_out"])
    # measured table
    rows = [[f"{r['n_in']}x{r['n_out']}", r["in_bits"], r["out_bits"], r["macs"],
             _f(r["energy_j"]["total"] * 1e12), _f(r["energy_per_mac_j"] * 1e15),
             _f(r["tops_per_w"]), _f(r["latency_s"] * 1e6)]
            + [_f(r["energy_j"][g] / r["energy_j"]["total"], ".3f") for g in data.GROUPS]
            for r in nums["measured"]]
    parts.append("<h2>Transistor-level MVMs (measured)</h2>")
    parts.append(_table(["size", "in bits", "out bits", "MACs", "energy (pJ)", "fJ/MAC",
                         "TOPS/W", "latency (us)", *(f"{g} share" for g in data.GROUPS)],
                        rows, num_cols=tuple(range(1, 12))))
    # the core model against held-out full cores (issue 18 item 3)
    fc = nums.get("full_core") or {}
    if fc.get("held_out"):
        parts.append("<h2>Core energy model against held-out full 256 x 256 cores</h2>")
        parts.append(f"<p>The energy fit includes {escape(str(fc['rows_in_fit']))} transistor-level full "
                     "cores; these were not in it (other seeds, partitioned transients, "
                     f"32-cell wire segments). Tolerance {100 * fc['tolerance']:g} %: "
                     + ("met" if fc["validated"] else "<b>not met</b>") + ".</p>")
    if fc.get("dirs_missing"):
        parts.append(f"<p><b>Not in the fit</b> (directories absent): "
                     f"{escape(', '.join(map(str, fc['dirs_missing'])))}.</p>")
        parts.append(_table(["run", "direction", "in bits", "out bits", "SPICE (nJ)",
                             "model (nJ)", "model / SPICE"],
                            [[r["file"], r["direction"], r["in_bits"], r["out_bits"],
                              _f(r["energy_sim_j"] * 1e9), _f(r["energy_model_j"] * 1e9),
                              _f(r["ratio_model_over_sim"], ".4f")] for r in fc["held_out"]],
                            num_cols=(2, 3, 4, 5, 6)))
    # breakdown
    parts.append("<h2>Energy breakdown beside the paper's (Extended Data Fig. 12b)</h2>")
    parts.append("<p>pycim groups sources by what they power; the paper's three groups map as: "
                 + "; ".join(f"<b>{escape(k)}</b> = {escape(' + '.join(v[1]))} "
                             f"({escape(v[0])})" for k, v in paper.PAPER_GROUPS.items())
                 + ".</p>")
    rows = []
    for b in bits:
        c = nums["core"][b]
        for g, (_, grp) in paper.PAPER_GROUPS.items():
            pv = P["breakdown_fj_per_op"][b][g]
            sim = sum(c["energy_j"][k] for k in grp) / c["macs"] / paper.OPS_PER_MAC * 1e15
            rows.append([b, g, _f(pv["value"]), _f(sim), _f(sim / pv["value"]),
                         _f(nums["breakdown_by_in_bits"][b][g], ".3f"), _src(pv["source"])])
    parts.append(_table(["in bits", "group", "paper fJ/op", "sim fJ/op (core)", "sim / paper",
                         "sim fraction", "paper source"], rows, num_cols=(2, 3, 4, 5)))
    parts.append(figs["breakdown"])
    # latency / throughput / EDP
    parts.append("<h2>Latency per MVM, throughput and energy-delay product</h2>")
    rows = []
    for b in bits:
        lp = P["latency_per_mvm_s"][b]
        tp = P["throughput_tops_48_cores"][b]
        e_p = P["energy_per_mac_j"][b]["value"] * paper.CORE_MACS
        rows.append([b, _f(lp["value"] * 1e6), _f(nums["latency_s"][b] * 1e6),
                     _f(nums["latency_s"][b] / lp["value"]), _f(tp["value"]),
                     _f(nums["throughput_tops"][b]), _f(e_p * lp["value"] * 1e18),
                     _f(nums["edp_js"][b] * 1e18), _src(tp["source"], lp["note"])])
    parts.append(_table(["in bits", "paper latency (us, derived)", "sim latency (us)",
                         "sim / paper", "paper TOPS (48 cores)", "sim TOPS (48 cores)",
                         "paper EDP (pJ us, derived)", "sim EDP (pJ us)", "paper source"],
                        rows, num_cols=tuple(range(1, 8))))
    parts.append("<p>Paper latency per core MVM is derived from its throughput: "
                 "48 cores x 2 x 128 x 256 ops / TOPS. Simulated timing follows CiMLoop's model "
                 f"of the macro ({_f(P['timing']['t_integration_step_s']['value'] * 1e6)} us per "
                 f"integration step, {_f(P['timing']['t_adc_step_s']['value'] * 1e6)} us per ADC "
                 "step); EDP is energy x latency of one core MVM.</p>")
    parts.append(figs["latency"])
    # every paper number with citation
    parts.append("<h2>Every paper number, its citation, the simulated value and the ratio</h2>")
    rows = [[r["in_bits"], r["quantity"], _f(r["paper"]), _f(r["sim"]),
             r["unit"], _f(r["ratio_sim_over_paper"]), r["level"], _src(r["source"], r["note"])]
            for r in nums["comparisons"]]
    parts.append(_table(["in bits", "quantity", "paper", "sim", "unit", "sim / paper", "sim level",
                         "source"], rows, num_cols=(2, 3, 5)))
    rows = [[k, _f(v["value"]), v["unit"], v["note"], _src(v["source"])]
            for k, v in (list(P["timing"].items()) + list(P["voltages"].items())
                         + list(P["headline"].items()))]
    parts.append("<p>Context numbers (used for timing, or claims without a matching "
                 "simulated figure):</p>")
    parts.append(_table(["name", "value", "unit", "note", "source"], rows, num_cols=(1,)))
    md = nums.get("macro_model_default") or {}
    if "energy_per_mac_j" in md:
        parts.append(f"<p>Cross-check: the packaged macro-model (<code>MacroModel.load()</code>, "
                     f"{escape(md['source'])}) gives {_f(md['energy_per_mac_j'] * 1e15)} fJ/MAC "
                     f"for a 256 x 256 core at {escape(str(md['in_bits']))}-bit inputs, against "
                     f"{_f(nums['core'][str(md['in_bits'])]['energy_per_mac_j'] * 1e15)} fJ/MAC "
                     "from this report's fit.</p>")
    # fit
    parts.append("<h2>Energy model fit</h2>")
    rows = [[k, _f(v)] for k, v in sorted(fit["coefficients"].items())]
    parts.append(_table(["coefficient", "value (SI)"], rows, num_cols=(1,)))
    rows = [[g, _f(100 * r["rms_rel"]), _f(100 * r["max_rel"]), r["n"]]
            for g, r in fit["residuals"].items()]
    parts.append(_table(["group", "rms residual (%)", "max residual (%)", "MVMs"], rows,
                        num_cols=(1, 2, 3)))
    parts.append(figs["fit"])
    # sensitivity
    s = nums["sensitivity"]
    parts.append("<h2>Sensitivity: which assumption moves energy most</h2>")
    parts.append(f"<p>{escape(s['method'])}: each assumption at x{1 - s['rel_step']:.1f} and "
                 f"x{1 + s['rel_step']:.1f}, {escape(str(s['in_bits']))}-bit inputs. No new "
                 "SPICE runs: "
                 "each acts on the fitted coefficient(s) it feeds by the stated law.</p>")
    rows = [[r["label"], _code(r["assumption"]), r["law"],
             _f(100 * r["rel_change_low"]), _f(100 * r["rel_change_high"])] for r in s["rows"]]
    parts.append(_table(["assumption", "name", "scaling law", "change at -20 % (%)",
                         "change at +20 % (%)"], rows, num_cols=(3, 4)))
    if s.get("skipped"):
        parts.append("<p>Left out (not defined on this fit):</p>")
        parts.append(_table(["assumption", "name", "reason"],
                            [[r["label"], _code(r["assumption"]), r["reason"]]
                             for r in s["skipped"]]))
    parts.append(figs["sensitivity"])
    # assumptions
    parts.append("<h2>Assumptions behind the numbers (pycim/assumptions.py)</h2>")
    rows = [[_code(a["name"]), _f(a["value"], ".4g"), a["unit"], a["reason"]]
            for a in nums["assumptions"]]
    parts.append(_table(["name", "value", "unit", "reason"], rows, num_cols=(1,)))
    parts.append("<h3>Process and scheme differences (chip vs simulation)</h3>")
    parts.append(_table(["item", "difference"], [[p["item"], p["note"]]
                                                  for p in nums["process_notes"]]))
    parts.append(f'<p id="pycim-check" data-expected="{len(plots)}">images not checked '
                 f'(no script)</p>')
    parts.append(f"<p class=\"src\">pycim {escape(nums['pycim_version'])}, report schema "
                 f"{escape(nums['schema'])}, built in {build_s:.1f} s.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


__all__ = ["CHECK_SCRIPT", "render_html"]
