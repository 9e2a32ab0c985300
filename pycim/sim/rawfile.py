"""Reader for binary SPICE3 raw files, as written by ngspice and VACASK."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import SimulatorCrash

#: a variable's line: its index, its name, its type
_VAR_LINE = re.compile(r"^[ \t]*(\d+)[ \t]+(\S+)", re.M)
_COUNT = re.compile(r"\s*(\d+)\s*")


def _count(header: dict[str, str], key: str, path) -> int:
    """A header count (``No. Variables``, ``No. Points``): a non-negative integer."""
    if key not in header:
        raise SimulatorCrash(f"raw file {path}: the header has no {_label(key)} line")
    m = _COUNT.fullmatch(header[key])
    if not m:
        raise SimulatorCrash(f"raw file {path}: {_label(key)}: {header[key]!r} is not a "
                             f"non-negative integer")
    return int(m.group(1))


def _label(key: str) -> str:
    return {"no. variables": "No. Variables", "no. points": "No. Points"}.get(key, key)


def read_raw(path: str | Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Return [(plotname, {variable: array})] for every plot in the file.

    Complex plots are returned as complex arrays. Raises SimulatorCrash on a truncated or
    malformed file (a missing or negative count, variable lines other than the count, a name
    listed twice, ``Binary:`` before ``Variables:``, an ASCII plot), naming what is wrong.
    """
    data = Path(path).read_bytes()
    plots = []
    pos = 0
    while pos < len(data):
        header: dict[str, str] = {}
        names: list[str] | None = None
        while True:
            end = data.find(b"\n", pos)
            if end < 0:
                if not plots and names is None:
                    raise SimulatorCrash(f"raw file {path} has no data section")
                if names is not None or header:
                    raise SimulatorCrash(f"raw file {path} is truncated (header without data)")
                return plots
            line = data[pos:end].decode("latin-1")
            pos = end + 1
            key, _, val = line.partition(":")
            k = key.strip().lower()
            if k == "variables":  # one line a variable: index, name, type
                if names is not None:
                    raise SimulatorCrash(f"raw file {path}: two Variables: sections in a plot")
                nvars = _count(header, "no. variables", path)
                if nvars == 0:
                    raise SimulatorCrash(f"raw file {path}: No. Variables is 0")
                end = pos
                for _ in range(nvars):
                    end = data.find(b"\n", end) + 1
                    if end == 0:
                        raise SimulatorCrash(f"raw file {path} is truncated in its variables")
                block = data[pos:end].decode("latin-1")
                found = _VAR_LINE.findall(block)
                if len(found) != nvars:
                    raise SimulatorCrash(f"raw file {path}: {len(found)} variable lines where "
                                         f"the header says {nvars}")
                names = [n for _, n in found]
                if len(set(names)) != nvars:
                    once: set[str] = set()
                    dup = next(n for n in names if n in once or once.add(n))
                    raise SimulatorCrash(f"raw file {path}: variable {dup!r} listed twice (a "
                                         f"node named like another vector?)")
                if any(int(i) != j for j, (i, _) in enumerate(found)):
                    raise SimulatorCrash(f"raw file {path}: variable indices are not "
                                         f"0..{nvars - 1} in order")
                pos = end
                continue
            if k in ("binary", "values"):
                break
            if names is not None and k:
                # the variable list ended: anything but the data section is a miscount
                raise SimulatorCrash(f"raw file {path}: variable lines where the header says "
                                     f"{len(names)} (or a header line after Variables:: "
                                     f"{line[:60]!r})")
            if k:
                header[k] = val.strip()
        if k != "binary":
            raise SimulatorCrash(f"raw file {path} is ASCII; pycim writes binary raw files")
        if names is None:
            raise SimulatorCrash(f"raw file {path}: Binary: before the Variables: list")
        npts = _count(header, "no. points", path)
        nvars = len(names)
        cplx = "complex" in header.get("flags", "").lower()
        width = 16 if cplx else 8
        nbytes = npts * nvars * width
        if pos + nbytes > len(data):
            raise SimulatorCrash(f"raw file {path} is truncated")
        arr = np.frombuffer(data, dtype="<f8", count=npts * nvars * (2 if cplx else 1), offset=pos)
        pos += nbytes  # never backwards: npts, nvars >= 0
        if cplx:
            arr = arr[0::2] + 1j * arr[1::2]
        # one copy, variables as rows: each vector a contiguous row of it (not a copy per
        # vector: half a million small arrays for a 256 x 256 array's operating point)
        cols = np.ascontiguousarray(arr.reshape(npts, nvars).T)
        plots.append((header.get("plotname", ""), dict(zip(names, cols))))
    return plots
