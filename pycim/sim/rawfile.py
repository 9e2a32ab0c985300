"""Reader for binary SPICE3 raw files, as written by ngspice and VACASK."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import SimulatorCrash

#: a variable's line: its index, its name, its type
_VAR_NAME = re.compile(r"^[ \t]*\d+[ \t]+(\S+)", re.M)


def read_raw(path: str | Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Return [(plotname, {variable: array})] for every plot in the file.

    Complex plots are returned as complex arrays. Raises SimulatorCrash on a truncated file.
    """
    data = Path(path).read_bytes()
    plots = []
    pos = 0
    while pos < len(data):
        header: dict[str, str] = {}
        names: list[str] = []
        while True:
            end = data.find(b"\n", pos)
            if end < 0:
                if not plots and not names:
                    raise SimulatorCrash(f"raw file {path} has no data section")
                return plots
            line = data[pos:end].decode("latin-1")
            pos = end + 1
            key, _, val = line.partition(":")
            k = key.strip().lower()
            if k == "variables":  # one line a variable: index, name, type
                nvars = int(header["no. variables"])
                end = pos
                for _ in range(nvars):
                    end = data.find(b"\n", end) + 1
                    if end == 0:
                        raise SimulatorCrash(f"raw file {path} is truncated")
                names = _VAR_NAME.findall(data[pos:end].decode("latin-1"))
                if len(names) != nvars:
                    raise SimulatorCrash(f"raw file {path}: {len(names)} variable lines "
                                         f"where the header says {nvars}")
                pos = end
                continue
            if k in ("binary", "values"):
                break
            if k:
                header[k] = val.strip()
        npts = int(header["no. points"])
        nvars = len(names)
        cplx = "complex" in header.get("flags", "").lower()
        if k != "binary":
            raise SimulatorCrash(f"raw file {path} is ASCII; pycim writes binary raw files")
        width = 16 if cplx else 8
        nbytes = npts * nvars * width
        if pos + nbytes > len(data):
            raise SimulatorCrash(f"raw file {path} is truncated")
        arr = np.frombuffer(data, dtype="<f8", count=npts * nvars * (2 if cplx else 1), offset=pos)
        pos += nbytes
        if cplx:
            arr = arr[0::2] + 1j * arr[1::2]
        # one copy, variables as rows: each vector a contiguous row of it (not a copy per
        # vector: half a million small arrays for a 256 x 256 array's operating point)
        cols = np.ascontiguousarray(arr.reshape(npts, nvars).T)
        plots.append((header.get("plotname", ""), dict(zip(names, cols))))
    return plots
