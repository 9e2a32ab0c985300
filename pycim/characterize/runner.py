"""Run the points of a sweep spec: in a process pool, cached and resumable.

Each point's result is a JSON file ``<out>/cache/<key>.json``; ``key`` is the SHA-256 of the
kind, the point's parameters, the text of every Verilog-A source in ``circuits/``, the package
data, the source of every pycim module, the pycim version and the ngspice version string, so a
change to any of them recomputes (a circuit change in the generators must not reuse results). Files are
written atomically (temp file + rename) with a SHA-256 of their content; a file that does not
parse, does not match its key or fails its checksum is ignored and the point recomputed.

A point that raises is recorded as failed (one-line message) and not cached; the sweep goes on.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import InputError, PycimError
from .spec import SweepSpec, load_spec

EXECUTORS = ("local", "dask")
CACHE_FORMAT = 3  # 2: control waveforms counted as CMOS drivers (energy_by_group logic);
#                  3: their charge counted per level (measure.energy.driver_charge)


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def fingerprint() -> dict:
    """What besides the point decides its result: model sources and tool versions."""
    from .. import toolchain

    h = hashlib.sha256()
    for p in sorted(toolchain.CIRCUITS_DIR.glob("*.va")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    pkg = Path(__file__).resolve().parents[1]
    for p in sorted((pkg / "data").glob("*.json")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")  # e.g. the programming error
    for p in sorted(pkg.rglob("*.py")):  # the generators, measurement and flows themselves
        h.update(str(p.relative_to(pkg)).encode() + b"\0" + p.read_bytes() + b"\0")
    return {"va_sha256": h.hexdigest(), "pycim": __version__,
            "ngspice": toolchain.ngspice_version()[1], "format": CACHE_FORMAT}


def point_key(kind: str, point: dict, fp: dict) -> str:
    return hashlib.sha256(canonical_json({"kind": kind, "point": point, "fp": fp}).encode()).hexdigest()


def _record_digest(rec: dict) -> str:
    body = {k: rec[k] for k in ("key", "kind", "point", "payload")}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def load_cached(path: Path, key: str) -> dict | None:
    """The cached payload at ``path`` if it is complete, intact and for ``key``; else None."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rec, dict) or rec.get("key") != key:
            return None
        if rec.get("sha256") != _record_digest(rec):
            return None
        payload = rec["payload"]
        if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
            return None
        return payload
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(path: Path, key: str, kind: str, point: dict, payload: dict, wall_s: float) -> None:
    from ..files import atomic_write_text

    rec = {"key": key, "kind": kind, "point": point, "payload": payload}
    rec["sha256"] = _record_digest(rec)
    rec["wall_s"] = wall_s
    rec["pid"] = os.getpid()
    atomic_write_text(path, json.dumps(rec, allow_nan=True) + "\n")


def one_line(exc: BaseException) -> str:
    msg = getattr(exc, "summary", None) or str(exc) or type(exc).__name__
    line = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    return line if isinstance(exc, PycimError) else f"{type(exc).__name__}: {line}"


class _WorkerStop(BaseException):
    """Raised in a pool worker by SIGTERM while it computes a point: unwinds the point (its
    simulator is killed, its temp directory removed), then the worker exits."""


#: prefix of a process pool's temp directory (its workers' temp files go under it)
POOL_TMP_PREFIX = "pycim-pool-"
#: pool worker state: True while a point is being computed (SIGTERM then unwinds it)
_WORKER = {"busy": False}
PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> None:
    """Linux: deliver ``sig`` to this process when its parent dies (prctl PR_SET_PDEATHSIG),
    so no pool worker outlives a killed pycim, SIGKILL included."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover
        return


def _worker_init(parent_pid: int, tmp_root: str | None = None) -> None:
    """Pool worker set-up: Ctrl-C is the parent's to handle (it stops the workers), SIGTERM
    stops this worker cleanly, and the worker gets SIGTERM when the parent dies. Its temp
    directories go under ``tmp_root``, the pool's own directory, which the parent removes
    whatever happened to the worker (one it had to SIGKILL cannot clean up after itself)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if tmp_root is not None:
        os.environ["TMPDIR"] = tmp_root
        tempfile.tempdir = tmp_root

    def on_term(signum, frame):
        if _WORKER["busy"]:
            raise _WorkerStop()
        _leave_pool_tmp()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    _die_with_parent(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    import threading

    threading.Thread(target=_orphan_watch, args=(parent_pid,), daemon=True,
                     name="pycim-orphan-watch").start()


#: seconds an orphaned pool worker is given to unwind on its SIGTERM before it exits anyway
ORPHAN_GRACE_S = 2.0


def _orphan_watch(parent_pid: int, poll_s: float = 0.2) -> None:
    """Pool worker thread, the fallback behind PR_SET_PDEATHSIG: once the parent is gone
    (reparented), give the SIGTERM ``ORPHAN_GRACE_S`` to unwind the point, then remove the
    pool's temp directory and exit. A Python signal handler runs only where the main thread
    executes bytecode; a SIGTERM that lands between two points, or in a C call that does not
    return, would leave the worker running on with pycim's stdout and stderr (seen once in CI:
    a SIGKILLed ``pycim sweep --jobs 2`` whose output pipes stayed open past 30 s). The
    worker's simulator, run under ``setpriv --pdeathsig KILL``, dies with it."""
    while os.getppid() == parent_pid:
        time.sleep(poll_s)
    time.sleep(ORPHAN_GRACE_S)
    root = tempfile.tempdir
    if root and Path(root).name.startswith(POOL_TMP_PREFIX):
        shutil.rmtree(root, ignore_errors=True)
    os._exit(128 + signal.SIGTERM)


def _run_point(kind: str, point: dict, key: str, cache_dir: str) -> tuple[str, bool, object, float]:
    """Compute one point and cache it. Returns (key, ok, payload or message, wall seconds)."""
    from .kinds import compute

    t0 = time.perf_counter()
    _WORKER["busy"] = True
    try:
        try:
            payload = json.loads(json.dumps(compute(kind, point), allow_nan=True))
        except Exception as exc:  # a failing point must not stop the sweep
            return key, False, one_line(exc), time.perf_counter() - t0
        wall = time.perf_counter() - t0
        store(Path(cache_dir) / f"{key}.json", key, kind, point, payload, wall)
        return key, True, payload, wall
    except _WorkerStop:  # unwound: simulator killed, temp files gone; take no further point
        _leave_pool_tmp()
        os._exit(128 + signal.SIGTERM)
    finally:
        _WORKER["busy"] = False


def _leave_pool_tmp() -> None:
    """A worker stopping for good removes the pool's temp directory if it is empty (its own
    point's directory is gone by now): when pycim itself was killed, the worker that stops last
    is the one that finds it empty, so nothing is left behind."""
    root = tempfile.tempdir
    if root and Path(root).name.startswith(POOL_TMP_PREFIX):
        with contextlib.suppress(OSError):
            os.rmdir(root)


def _stop_pool(pool: cf.ProcessPoolExecutor, grace_s: float = 1.0) -> None:
    """Cancel every queued point and stop the workers now: SIGTERM (each unwinds its point:
    simulator killed, temp directory removed), SIGKILL after ``grace_s``."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(ProcessLookupError, OSError, AttributeError):
            os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(1.0)


@dataclass
class PointResult:
    kind: str
    point: dict
    key: str
    status: str  # cached, computed, failed
    payload: dict | None = None
    message: str = ""
    wall_s: float = 0.0


@dataclass
class SweepReport:
    out_dir: Path
    results: list[PointResult]
    wall_s: float = 0.0
    files: list[Path] = field(default_factory=list)
    spec_path: str | None = None  # the spec run (recorded in sweep.json)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failures(self) -> list[PointResult]:
        return [r for r in self.results if r.status == "failed"]


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _prewarm() -> None:
    """Compile every Verilog-A model once here, before workers start, so they never race."""
    from .. import toolchain
    from ..tech.va import circuit_osdi

    for p in sorted(toolchain.CIRCUITS_DIR.glob("*.va")):
        circuit_osdi(p.stem)


_SCHEDULER = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?)"
                        r":([0-9]{1,5})")


def parse_scheduler(scheduler: str) -> tuple[str, str, int]:
    """(protocol, host, port) of a ``tcp://host:port`` scheduler address, or an InputError."""
    m = _SCHEDULER.fullmatch(scheduler) if isinstance(scheduler, str) else None
    if m is None or not 1 <= int(m.group(3)) <= 65535:
        raise InputError(f"--scheduler must look like tcp://host:port (port 1..65535), "
                         f"got {scheduler!r}")
    return m.group(1), m.group(2), int(m.group(3))


def _dask_client(scheduler: str | None, jobs: int):
    """A ``distributed.Client``: the cluster at ``scheduler`` (``tcp://host:port``), or a local
    cluster of ``jobs`` single-threaded worker processes. Workers must see the same files
    (sweep output directory, circuits/) as this process."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--executor dask needs the dask[distributed] package "
                         "(pip install -e .[dask])") from None
    if scheduler:
        parse_scheduler(scheduler)
        try:
            return Client(scheduler, timeout="5s")
        except Exception as exc:  # OSError, TimeoutError, ValueError from distributed
            msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"--scheduler {scheduler}: cannot connect ({msg})") from None
    return Client(LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None))


def run_points(spec: SweepSpec, out_dir: str | os.PathLike[str], jobs: int | None = None,
               executor: str = "local", progress: bool = True,
               scheduler: str | None = None, lock: bool = True, _finish=None) -> SweepReport:
    """Compute (or load from cache) every point of ``spec``; no tables or plots.

    ``executor="local"``: a process pool of ``jobs`` workers (1 = in this process).
    ``executor="dask"``: a Dask cluster (``scheduler`` address, or a local cluster of ``jobs``
    workers); each worker writes its points to the same cache, so a killed run resumes the same way.
    ``lock``: hold the directory's one-writer lock (:func:`~pycim.characterize.tables.results_lock`)
    while running (False when the caller holds it).

    Everything is checked before anything is written (arguments, scheduler address, total
    points, memory, simulator version). Ctrl-C or SIGTERM cancels the queued points and stops
    the workers (their simulators die with them) within about a second; the points finished
    so far are cached, so running the sweep again resumes where it stopped.
    """
    if executor not in EXECUTORS:
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise InputError("--scheduler needs --executor dask")
    if scheduler is not None:
        parse_scheduler(scheduler)
    jobs = default_jobs() if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"--jobs must be an integer >= 1, got {jobs!r}")
    t0 = time.perf_counter()
    out = Path(out_dir)
    cache = out / "cache"
    from ..resources import sweep_plan
    from .tables import results_lock

    # refused before anything is written: too many points, a point too large for memory, a
    # missing simulator
    plan = sweep_plan(spec, jobs)
    jobs = plan.jobs
    fp = fingerprint()
    made = [d for d in (out, cache) if not d.exists()]
    held = results_lock(out) if lock else None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        rep = _run_points(spec, out, cache, fp, plan, executor, progress, scheduler, t0)
        if _finish is not None:
            rep.files = _finish(rep)
        return rep
    except BaseException:
        for d in reversed(made):  # nothing computed: leave no empty directory behind
            if d == cache or not any(p.name != ".pycim.lock" for p in d.iterdir()):
                with contextlib.suppress(OSError):
                    d.rmdir()
        raise
    finally:
        if held is not None:
            held.release()
            if out in made:
                with contextlib.suppress(OSError):
                    out.rmdir()  # only if empty


def _run_points(spec, out, cache, fp, plan, executor, progress, scheduler, t0) -> SweepReport:
    jobs = plan.jobs
    results: list[PointResult] = []
    todo: list[PointResult] = []
    for kind, point in spec.points():
        key = point_key(kind, point, fp)
        payload = load_cached(cache / f"{key}.json", key)
        r = PointResult(kind, point, key, "cached" if payload is not None else "pending", payload)
        results.append(r)
        if payload is None:
            todo.append(r)
    if progress:
        print(f"sweep {spec.path}: {plan}; {len(results) - len(todo)} cached, {len(todo)} to "
              f"compute", file=sys.stderr)
    from tqdm import tqdm

    bar = tqdm(total=len(results), initial=len(results) - len(todo), desc="sweep", unit="pt",
               disable=not progress, dynamic_ncols=True)
    by_key = {r.key: r for r in todo}

    def done(key, ok, val, wall):
        r = by_key[key]
        r.wall_s = wall
        if ok:
            r.status, r.payload = "computed", val
        else:
            r.status, r.message = "failed", val
        bar.update(1)

    try:
        if todo:
            _prewarm()
        if executor == "dask" and todo:
            from distributed import as_completed

            client = _dask_client(scheduler, jobs)
            try:
                futs = {client.submit(_run_point, r.kind, r.point, r.key, str(cache), pure=False): r
                        for r in todo}
                for f in as_completed(futs):
                    try:
                        done(*f.result())
                    except Exception as exc:  # worker lost etc.
                        r = futs[f]
                        done(r.key, False, one_line(exc), 0.0)
            finally:
                cluster = getattr(client, "cluster", None)
                client.close()
                if cluster is not None and not scheduler:
                    cluster.close()
        elif jobs == 1 or len(todo) <= 1:
            for r in todo:
                done(*_run_point(r.kind, r.point, r.key, str(cache)))
        elif todo:
            tmp_root = tempfile.mkdtemp(prefix=POOL_TMP_PREFIX)
            pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(todo)),
                                          initializer=_worker_init,
                                          initargs=(os.getpid(), tmp_root))
            try:
                futs = {pool.submit(_run_point, r.kind, r.point, r.key, str(cache)): r
                        for r in todo}
                for f in cf.as_completed(futs):
                    try:
                        done(*f.result())
                    except Exception as exc:  # worker died (BrokenProcessPool) etc.
                        r = futs[f]
                        done(r.key, False, one_line(exc), 0.0)
            except BaseException:  # Ctrl-C, SIGTERM: stop now, not after the queue
                _stop_pool(pool)
                raise
            else:
                pool.shutdown(wait=True)
            finally:
                shutil.rmtree(tmp_root, ignore_errors=True)
    finally:
        bar.close()
    return SweepReport(out, results, time.perf_counter() - t0, spec_path=str(spec.path))


def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike[str], jobs: int | None = None,
              executor: str = "local", progress: bool = True, plots: bool = True,
              scheduler: str | None = None) -> SweepReport:
    """Run every point, then write tables (Parquet per kind, summary.csv), plots and sweep.json,
    all under the directory's one-writer lock."""
    from .tables import write_outputs

    return run_points(spec, out_dir, jobs, executor, progress, scheduler,
                      _finish=lambda rep: write_outputs(rep, plots=plots))


def sweep_into(spec_path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
               jobs: int | None = None, executor: str = "local",
               scheduler: str | None = None, progress: bool = True,
               plots: bool = True) -> SweepReport:
    """The one sweep entry point (``pycim sweep``, ``pycim report --resimulate``, the demo):
    load and validate the spec at ``spec_path``, check ``out_dir`` is a writable directory
    (both before anything is written), then :func:`run_sweep` into it.

    Parameters
    ----------
    spec_path : the TOML sweep spec.
    out_dir : output directory (created; cached points in it are reused).
    jobs, executor, scheduler, progress, plots : as :func:`run_sweep`.

    Returns
    -------
    SweepReport : every point's status; failed points are listed, not raised.
    """
    from ..files import check_output_dir

    spec = load_spec(spec_path)
    check_output_dir(out_dir, "--out")
    check_sweep_out(spec, out_dir, "--out", spec_path)
    return run_sweep(spec, out_dir, jobs=jobs, executor=executor, progress=progress,
                     plots=plots, scheduler=scheduler)


# ---------------------------------------------------------------------------------------------
# Which directories a sweep may write. A sweep rewrites the directory's summary.csv, sweep.json,
# manifest.json and its kinds' tables from the points of ITS spec, so a directory holding the
# results of points that spec does not have would lose them (its manifest would no longer list
# the other kinds' tables). The directory's points are what its summary.csv lists (every point
# of the run, failed ones included), or, before a first run finished (no summary.csv yet), what
# its cache records hold. "The same spec" is therefore judged by content, not by the spec's path:
# a rerun of the same points resumes wherever the spec file now lives, and a spec grown by more
# points (more seeds, say) may extend the directory, since nothing listed is dropped.

#: names a sweep writes into its output directory (besides ``<kind>.parquet`` and PNGs)
_SWEEP_FILES = ("summary.csv", "sweep.json", "cache")


def _written_by_sweep(name: str) -> bool:
    from ..files import LOCK, MANIFEST

    if name in (*_SWEEP_FILES, MANIFEST, LOCK):
        return True
    if name.startswith(".") and (name.endswith(".tmp") or name.endswith(".tmp.png")):
        return True  # a writer's temp file left by a killed run
    stem, _, ext = name.rpartition(".")
    return bool(stem) and ext in ("parquet", "png") and not name.startswith(".")


def _point_id(kind: str, point: dict) -> tuple:
    """A point comparable across pycim versions: parameters a kind gained since (with a
    default) filled in with that default, as the spec would have it."""
    from .spec import KINDS

    p = dict(point)
    for prm in KINDS.get(kind, ()):
        if prm.name not in p and prm.default is not None:
            p[prm.name] = prm.default
    try:
        return kind, tuple(sorted(p.items()))
    except TypeError:  # unorderable keys: not a point of any spec
        return kind, (repr(sorted(p.items(), key=repr)),)


def _recorded_points(out: Path, what: str) -> tuple[str, list[tuple]] | None:
    """(where they come from, the directory's points), or None if it records none."""
    import csv

    summary = out / "summary.csv"
    if summary.is_file():
        try:
            with open(summary, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            pts = [_point_id(r["kind"], json.loads(r["point"])) for r in rows]
        except (OSError, ValueError, KeyError, TypeError, AttributeError, csv.Error):
            raise InputError(f"{what}: {out} has a summary.csv that does not list a sweep's "
                             f"points (kind, point columns); give another --out, or remove "
                             f"{out} to start over") from None
        return "summary.csv", pts
    cache = out / "cache"
    if cache.is_dir():
        pts = []
        for f in sorted(cache.glob("*.json")):
            try:
                rec = json.loads(f.read_text(encoding="utf-8"))
                pts.append(_point_id(rec["kind"], rec["point"]))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # a damaged record is recomputed anyway
        return "cache", pts
    return None


def check_sweep_out(spec: SweepSpec, out_dir: str | os.PathLike[str], what: str = "--out",
                    spec_path: str | os.PathLike[str] | None = None) -> None:
    """Refuse (InputError) an output directory a run of ``spec`` would damage: one holding files
    a sweep does not write, or the results (tables, or cached points of an unfinished run) of
    points ``spec`` does not have. A missing or empty directory, or one holding results of
    ``spec``'s own points (a rerun: it resumes from the cache), is accepted."""
    from ..files import MANIFEST, DirLock

    out = Path(out_dir)
    if not out.is_dir():
        return
    DirLock(out, what).check_free()  # a sweep writing it now: that is the reason to name
    names = sorted(os.listdir(out))
    own = None
    if spec_path is not None and Path(spec_path).parent.absolute() == out.absolute():
        own = Path(spec_path).name  # the spec itself may live there
    foreign = [n for n in names if n != own and not _written_by_sweep(n)]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5
                                          else "")
        raise InputError(f"{what}: {out} is not empty and not a sweep's results directory (it "
                         f"holds {shown}); a sweep writes summary.csv, sweep.json, "
                         f"manifest.json and tables there: give a new or empty --out")
    rec = _recorded_points(out, what)
    if rec is None:
        tables = [n for n in names if n.endswith(".parquet") or n == MANIFEST]
        if tables:
            raise InputError(f"{what}: {out} holds sweep outputs ({', '.join(tables[:5])}) but "
                             f"no summary.csv naming their points; give another --out, or "
                             f"remove {out} to start over")
        return
    source, pts = rec
    mine = {_point_id(k, p) for k, p in spec.points()}
    other = [p for p in dict.fromkeys(pts) if p not in mine]
    if not other:
        return
    was = ""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        prev = json.loads((out / "sweep.json").read_text(encoding="utf-8")).get("spec")
        if isinstance(prev, str):
            was = f" (spec {prev})"
    kinds = sorted({k for k, _ in pts})
    kind, items = other[0]
    example = ", ".join(f"{k}={v!r}" for k, v in items) if isinstance(items, tuple) else ""
    held = "the cached points" if source == "cache" else "the results"
    raise InputError(f"{what}: {out} holds {held} of another sweep{was} ({len(set(pts))} points "
                     f"of {', '.join(kinds)}; {len(other)} not in {spec.path}, e.g. {kind} "
                     f"{example}); this sweep would rewrite its summary.csv, sweep.json and "
                     f"manifest.json without them: give another --out, or remove {out} to "
                     f"start over")
