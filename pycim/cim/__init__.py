"""The CIM math in numpy, shared by every stage: input encoding, programming, the closed form.

No SPICE here: the SPICE flow, the macro-model, the fits, the characterization kinds and the
report all import these functions, so the ideal MVM is written once.
"""
