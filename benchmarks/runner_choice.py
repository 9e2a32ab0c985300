import os, time, warnings, logging
os.environ["NGSPICE_LIBRARY_PATH"] = "/usr/lib/x86_64-linux-gnu/libngspice.so.0"
from pycim.netlist import testbench as tb
from pycim.netlist.circuit import ngspice_lines
from pycim.sim import NgspiceEngine, Op, Tran
c = tb.cell_iv(0.5e-9)
osdi = str(c.osdi_files[0])
text = "\n".join(ngspice_lines(c, options={"klu": None})) + "\n.op\n.end\n"
eng = NgspiceEngine()
N=30
t0=time.perf_counter()
for _ in range(N): r = eng.run(c, Op())
t_sub = (time.perf_counter()-t0)/N
logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore")
from PySpice.Spice.NgSpice.Shared import NgSpiceShared
t0=time.perf_counter()
ng = NgSpiceShared.new_instance()
t_init = time.perf_counter()-t0
print(ng.exec_command(f"osdi {osdi}"))
t0=time.perf_counter()
for _ in range(N):
    ng.load_circuit(text)
    try: ng.run()
    except Exception as e: err = e
    plot = ng.plot(None, ng.last_plot)
    i = plot["v1#branch"] if "v1#branch" in plot else None
    assert i is not None, list(plot)
    ng.remove_circuit()
    ng.destroy()
t_sh = (time.perf_counter()-t0)/N
print(f"subprocess op: {t_sub*1e3:.1f} ms/run; PySpice shared: {t_sh*1e3:.1f} ms/run (+{t_init*1e3:.0f} ms init)")
# bigger: pulse train transient
tr = tb.PulseTrain((0.5,0.6,0.7,0.8,0.9,1.0,-0.5,-0.6,-0.7,-0.8,-0.9))
c2 = tb.pulse_train(tr, 1.2e-9)
t0=time.perf_counter(); r = eng.run(c2, Tran(5e-9, tr.stop_s, 5e-9)); t_sub2=time.perf_counter()-t0
text2 = "\n".join(ngspice_lines(c2, options={"klu": None})) + f"\n.tran 5e-9 {tr.stop_s} 0 5e-9\n.end\n"
ng.exec_command("set num_threads=1")
t0=time.perf_counter(); ng.load_circuit(text2)
try: ng.run()
except Exception as e: print("run raised", e)
t_sh2=time.perf_counter()-t0
print(ng.plot_names, len(ng.plot(None, ng.last_plot)["time"].to_waveform()) if "time" in ng.plot(None, ng.last_plot) else "")
print(f"pulse-train tran: subprocess {t_sub2*1e3:.0f} ms, PySpice shared {t_sh2*1e3:.0f} ms, points {len(r['time'])}")
