"""Netlist layer: the only code that writes SPICE or VACASK text."""
