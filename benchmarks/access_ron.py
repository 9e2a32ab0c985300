"""Ron of the 1T1R access FET (SKY130 nfet_g5v0d10v5, L = 0.5 um) at the read operating point:
source at Vref = 0.9 V, 0.05 V across it, gate at the WL high level; widths 1-4 um, tt 27 C
and ss 125 C. The issue-17 question: what width keeps today's Ron with the paper's 2.2 V WL?

Also the SET compliance current (write-verify, issue 16's scheme): the access FET's drain current
with its source (SL) at 0 V, 1 V or 2 V across it and the gate at the SET WL level, for the old
1 um FET at WL 2.5 / 3.0 V against the current width (assumption ``access_w_um``) at the SET WL
levels of :class:`pycim.characterize.write_verify.WriteVerifyScheme` (27 C and 85 C, tt).

    PYTHONPATH=. .venv/bin/python benchmarks/access_ron.py
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


def i_compliance_a(w_um: float, v_wl_v: float, v_ds_v: float, temp_c: float,
                   corner: str = "tt") -> float:
    """Drain current of the access FET (full card, body network on, as write-verify uses it)
    with the source and body at 0 V, ``v_ds_v`` on the drain and ``v_wl_v`` on the gate."""
    card = sky130.flat_card("nfet_g5v0d10v5", w_um * 1e-6, 0.5e-6, corner)
    c = Circuit("access FET SET compliance")
    c.add_model(card_model(card))
    c.add(VSource("VD", "d", "0", dc_v=v_ds_v), VSource("VG", "g", "0", dc_v=v_wl_v),
          card_mosfet(card, "M1", "d", "g", "0", "0"))
    return -NgspiceEngine().run(c, Op(), temp_c=temp_c).value("i(vd)")


if __name__ == "__main__":
    for corner, temp in (("tt", 27.0), ("ss", 125.0)):
        for w in (1.0, 2.0, 3.0, 4.0):
            r = {v: ron_ohm(w, v, corner, temp) for v in (2.2, 3.3)}
            print(f"{corner} {temp:g} C  W = {w:g} um:  Ron {r[2.2] / 1e3:.2f} kOhm at WL 2.2 V, "
                  f"{r[3.3] / 1e3:.2f} kOhm at WL 3.3 V")
    from pycim import assumptions
    from pycim.characterize.write_verify import SET_WL_LEVELS_V, WriteVerifyScheme

    w_new = assumptions.value("access_w_um")
    print(f"SET compliance (tt): old 1 um at WL 2.5 / 3.0 V vs {w_new:g} um at WL "
          f"{' / '.join(f'{v:g}' for v in SET_WL_LEVELS_V)} V (default "
          f"{WriteVerifyScheme().v_wl_set_v:g} V)")
    for temp in (27.0, 85.0):
        for vds in (1.0, 2.0):
            for old, new in zip((2.5, 3.0), SET_WL_LEVELS_V):
                i0, i1 = i_compliance_a(1.0, old, vds, temp), i_compliance_a(w_new, new, vds, temp)
                print(f"  {temp:g} C, Vds {vds:g} V: 1 um @ {old:g} V {i0 * 1e6:.0f} uA; "
                      f"{w_new:g} um @ {new:g} V {i1 * 1e6:.0f} uA (x{i1 / i0:.2f}); "
                      f"{w_new:g} um @ {old:g} V "
                      f"{i_compliance_a(w_new, old, vds, temp) * 1e6:.0f} uA")
