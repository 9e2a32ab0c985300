"""Ron of the 1T1R access FET (SKY130 nfet_g5v0d10v5, L = 0.5 um) at the read operating point:
source at Vref = 0.9 V, 0.05 V across it, gate at the WL high level; widths 1-4 um, tt 27 C
and ss 125 C. The issue-17 question: what width keeps today's Ron with the paper's 2.2 V WL?

    .venv/bin/python benchmarks/access_ron.py
"""

from __future__ import annotations

from pycim.netlist.circuit import Circuit, VSource
from pycim.netlist.sky130_cards import card_model, card_mosfet
from pycim.sim import NgspiceEngine, Op
from pycim.tech import sky130


def ron_ohm(w_um: float, v_wl_v: float, corner: str, temp_c: float) -> float:
    card = sky130.flat_card("nfet_g5v0d10v5", w_um * 1e-6, 0.5e-6, corner).without_body_network()
    c = Circuit("access FET Ron")
    c.add_model(card_model(card))
    c.add(VSource("VS", "s", "0", dc_v=0.9), VSource("VD", "d", "0", dc_v=0.95),
          VSource("VG", "g", "0", dc_v=v_wl_v), card_mosfet(card, "M1", "d", "g", "s", "0"))
    res = NgspiceEngine().run(c, Op(), temp_c=temp_c)
    return 0.05 / -res.value("i(vd)")


if __name__ == "__main__":
    for corner, temp in (("tt", 27.0), ("ss", 125.0)):
        for w in (1.0, 2.0, 3.0, 4.0):
            r = {v: ron_ohm(w, v, corner, temp) for v in (2.2, 3.3)}
            print(f"{corner} {temp:g} C  W = {w:g} um:  Ron {r[2.2] / 1e3:.2f} kOhm at WL 2.2 V, "
                  f"{r[3.3] / 1e3:.2f} kOhm at WL 3.3 V")
