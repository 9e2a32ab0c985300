"""pycim: transistor-level verification suite for RRAM compute-in-memory (NeuRRAM).

Data flows one way: spec -> netlist -> sim -> measure -> characterize -> fit -> macro -> report.
"""

__version__ = "0.1.0"
