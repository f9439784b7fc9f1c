"""Where the parameter draws of an experiment run, and how finished draws are kept.

The unit of work is one draw: every arm of that draw (so arms stay paired) on the scenario
with that draw's parameters, giving the long rows ``(arm, draw, metric, value)``. Draws
are grouped in chunks (:func:`chunk_size`: at most :data:`CHUNK_SIZE` draws, and at least
:data:`MIN_CHUNKS` chunks or :data:`TASKS_PER_SLOT` per worker thread, whichever is more) to
amortise the per-task overhead without idling a large cluster. Executors::

    ``serial``      in this process, chunk after chunk (the default);
    ``processes``   local worker processes through ``joblib.Parallel`` (loky backend);
    ``dask``        a ``dask.distributed.LocalCluster`` of ``workers`` single-threaded
                    processes bound to loopback (``127.0.0.1``; its HTTP endpoint on a free
                    loopback port), or an existing cluster by scheduler address
                    (``tcp://host:8786``); its workers need the same ``contagion`` version.
                    Needs the ``dask`` extra (``pip install 'basis-contagion[dask]'``).

The system, scenario and arms are pickled once into a payload. joblib sends it along with
each chunk (about 0.4 MB for the stylised system, 1 MB for the calibrated one, negligible
against a chunk's simulations) and a worker process unpickles it once and caches it by its
hash. On Dask the payload is a *task* (unpickle these bytes), not scattered data: the
scheduler keeps its recipe, so if every worker holding it is lost it is recomputed, where
scattered data would be gone for good. The parameters of draw ``d`` come from child ``d``
of the seed and are computed in the calling process, so results do not depend on the
executor.

Dask and lost workers: the scheduler reschedules the chunks that were running on a worker
that dies; a chunk whose workers died :data:`ALLOWED_FAILURES` times (``KilledWorker``) or
that was cancelled with its data is submitted again, up to :data:`RESUBMIT` times, so a
sweep that loses every worker finishes once workers return (a ``LocalCluster``'s nannies
restart them; on a remote cluster, start new ones). Before any simulation runs
(:func:`make_executor`) an existing cluster is checked: reachable, at least one worker
within :data:`WORKER_TIMEOUT`, matching Dask and Python versions
(``client.get_versions(check=True)``) and the same ``contagion`` version on every worker;
each fault is an :class:`~contagion.InputError` saying what to do.

Dask workers should be single-threaded processes (``dask worker ADDRESS --nthreads 1
--nworkers N``): the engine is numpy code that holds the GIL for most of a draw, so a
second thread in a worker adds no speed and starves the worker's event loop ("event loop
unresponsive"); a warning says so when a worker has more than one thread.

:class:`Checkpoint` writes each finished chunk atomically to
``DIR/draws-<first>-<last>.<sha256>.parquet``, the SHA-256 of the file's bytes in its name
(one rename publishes the data and its checksum together); ``DIR/checkpoint.json`` holds
a hash of the experiment (system, scenario, arms, seed, draws, uncertainty, chunk size,
version) so a rerun skips finished chunks and a different experiment is refused. On
resume a chunk is used only if its bytes match the checksum and its rows are exactly the
chunk's draws and arms; a damaged chunk (a flipped bit, a truncated or replaced file) is
recomputed, with a :class:`CheckpointWarning`, never used. The directory is locked while
a sweep writes to it (:class:`contagion.files.OutputDirectory`): a second sweep into it
fails at once.

Errors raised in worker processes (:class:`~contagion.InputError`,
:class:`~contagion.InvariantError`) pickle by their fields, so they arrive in the calling
process as they were raised.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import pickle
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contagion.errors import InputError, Problem
from contagion.files import (
    MAX_DATA_BYTES,
    OutputDirectory,
    atomic_write_bytes,
    read_bytes,
    read_text,
)

log = logging.getLogger(__name__)

BACKENDS = ("serial", "processes", "dask")
CHUNK_SIZE = 50  # draws per task at most
MIN_CHUNKS = 20  # small experiments get smaller chunks (progress, parallelism)
TASKS_PER_SLOT = 4  # chunks per worker thread at least (load balance on a large cluster)
COLUMNS = ["arm", "draw", "metric", "value"]
CONNECT_TIMEOUT = "10s"  # to an existing scheduler
WORKER_TIMEOUT = 30.0  # seconds an existing scheduler may take to show its first worker
ALLOWED_FAILURES = 3  # Dask's default: worker deaths while a chunk runs before KilledWorker
RESUBMIT = 5  # times a chunk lost with its workers is submitted again
DASK_MISSING = (
    "the dask backend needs dask.distributed, an optional extra: "
    "pip install 'basis-contagion[dask]'"
)

Row = tuple[str, int, str, float]
Draw = tuple[int, dict[str, float]]  # (draw index, parameters)


@dataclass(frozen=True)
class Chunk:
    """Draws ``first..last`` (inclusive) with their parameters."""

    first: int
    last: int
    draws: tuple[Draw, ...]

    @property
    def name(self) -> str:
        return f"draws-{self.first}-{self.last}.parquet"


@dataclass(frozen=True)
class Work:
    """What every task needs: shipped to each worker once."""

    system: Any
    scenario: Any
    arms: dict[str, list]
    keep_paths: bool = False  # also the daily paths (experiment.PATHS) of every run


def chunk_size(draws: int, slots: int = 1) -> int:
    """Draws per chunk: at most :data:`CHUNK_SIZE`, and at least :data:`MIN_CHUNKS` chunks
    or :data:`TASKS_PER_SLOT` chunks per worker thread (``slots``), whichever is more.

    >>> chunk_size(1000), chunk_size(1000, slots=64), chunk_size(10)
    (50, 4, 1)
    """
    tasks = max(MIN_CHUNKS, TASKS_PER_SLOT * max(1, int(slots)))
    return max(1, min(CHUNK_SIZE, math.ceil(draws / tasks)))


def plan(params: Sequence[dict[str, float]], size: int) -> list[Chunk]:
    """Split the draws (``params[d]`` is draw ``d``) into chunks of ``size``."""
    return [
        Chunk(i, min(i + size, len(params)) - 1, tuple(enumerate(params[i : i + size], i)))
        for i in range(0, len(params), size)
    ]


PATH_PREFIX = "path:"  # rows "path:<metric>:<day>" carry a day of a kept path


def run_draws(work: Work, draws: Sequence[Draw]) -> list[Row]:
    """Long rows of some draws: every arm's headline metrics, then the draw's parameters,
    then (``work.keep_paths``) its daily paths as ``path:<metric>:<day>`` rows, so chunks
    and checkpoints keep one format (:func:`split_paths` takes them apart)."""
    from contagion.engine import Simulation
    from contagion.experiment import headline

    rows: list[Row] = []
    for d, params in draws:
        sc = work.scenario.with_params(**params)
        for name, pols in work.arms.items():
            rec = Simulation(work.system, sc, pols).record(institutions=False)
            rows += [(name, d, k, v) for k, v in headline(rec.summary()).items()]
            rows += [(name, d, f"param:{k}", v) for k, v in params.items()]
            if work.keep_paths:
                for metric, values in rec.paths().items():
                    rows += [
                        (name, d, f"{PATH_PREFIX}{metric}:{day}", float(v))
                        for day, v in enumerate(values)
                    ]
    return rows


def split_paths(rows: Sequence[Row]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The draws frame (:data:`COLUMNS`) and the paths frame (arm, draw, day, metric,
    value) from the rows of :func:`run_draws`."""
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    is_path = frame["metric"].str.startswith(PATH_PREFIX)
    draws = frame[~is_path].reset_index(drop=True)
    p = frame[is_path]
    parts = p["metric"].str.removeprefix(PATH_PREFIX).str.rsplit(":", n=1, expand=True)
    paths = pd.DataFrame(
        {
            "arm": p["arm"].to_numpy(),
            "draw": p["draw"].to_numpy(dtype=np.int64),
            "day": (parts[1] if len(p) else pd.Series(dtype=str)).astype(np.int64).to_numpy(),
            "metric": (parts[0] if len(p) else pd.Series(dtype=str)).astype(str).to_numpy(),
            "value": p["value"].to_numpy(dtype=float),
        }
    )
    return draws, paths


_WORK: dict[str, Work] = {}  # per process: the last payload, by its hash


def _run_payload(token: str, payload: bytes, chunk: Chunk) -> tuple[int, list[Row]]:
    work = _WORK.get(token)
    if work is None:
        _WORK.clear()
        work = _WORK[token] = pickle.loads(payload)
    return chunk.first, run_draws(work, chunk.draws)


def _version() -> str:
    from contagion import __version__

    return __version__


def _unpickle(payload: bytes) -> Work:
    """The payload task on Dask: recomputable from its bytes, unlike scattered data."""
    return pickle.loads(payload)


def _run_chunk(work: Work, chunk: Chunk) -> tuple[int, list[Row]]:
    return chunk.first, run_draws(work, chunk.draws)


def _distributed() -> Any:
    """``dask.distributed``, or an InputError saying how to install it."""
    try:
        import dask.distributed
    except ImportError:
        raise InputError(Problem("option", "backend", DASK_MISSING)) from None
    return dask.distributed


# --- executors ---------------------------------------------------------------------------
class Executor(ABC):
    """Runs chunks of draws; yields ``(chunk.first, rows)`` as chunks finish (any order)."""

    @abstractmethod
    def run(self, work: Work, chunks: Sequence[Chunk]) -> Iterator[tuple[int, list[Row]]]: ...

    def slots(self) -> int:
        """Chunks this executor runs at once (sizes the chunks: :func:`chunk_size`)."""
        return 1


class SerialExecutor(Executor):
    """In this process, in order."""

    def run(self, work: Work, chunks: Sequence[Chunk]) -> Iterator[tuple[int, list[Row]]]:
        for chunk in chunks:
            yield chunk.first, run_draws(work, chunk.draws)


class JoblibExecutor(Executor):
    """Local worker processes through ``joblib.Parallel`` (loky)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def slots(self) -> int:
        return self.workers

    def run(self, work: Work, chunks: Sequence[Chunk]) -> Iterator[tuple[int, list[Row]]]:
        from joblib import Parallel, delayed

        payload = pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)
        token = hashlib.sha256(payload).hexdigest()
        parallel = Parallel(
            n_jobs=self.workers, backend="loky", return_as="generator_unordered", batch_size=1
        )
        results = parallel(delayed(_run_payload)(token, payload, c) for c in chunks)
        try:
            # not `yield from`: GeneratorExit must not be thrown into joblib's generator
            for item in results:  # noqa: UP028
                yield item
        finally:
            with warnings.catch_warnings():
                # an interrupted sweep drops the remaining tasks on purpose; joblib warns
                # that they were "cancelled" or "executed but not used": that is the intent
                warnings.filterwarnings(
                    "ignore", r".*adjusting the input task\s+iterator", UserWarning
                )
                results.close()


class DaskExecutor(Executor):
    """A Dask LocalCluster on loopback (``workers``) or an existing cluster (``scheduler``)."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self._threads: int | None = None  # of the existing cluster, from check()

    def slots(self) -> int:
        if self.scheduler is None:
            return self.workers or os.cpu_count() or 1
        return self._threads or 1

    def check(self) -> None:
        """Connect to an existing cluster and check it (workers, versions) before any
        simulation runs: an :class:`~contagion.InputError` saying what to do on a fault."""
        _distributed()
        if self.scheduler is not None:
            with self.client():
                pass

    def _connect(self) -> Any:
        dd = _distributed()
        try:
            return dd.Client(self.scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as err:
            raise self._problem(
                f"cannot connect to {self.scheduler}: {err}; check the address (tcp://host:8786) "
                "and that `dask scheduler` runs there"
            ) from None

    def _problem(self, reason: str) -> InputError:
        return InputError(Problem("option", "scheduler", reason))

    def _check_cluster(self, client: Any) -> None:
        """Workers present, versions consistent, single-threaded workers advised."""
        try:
            client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        except TimeoutError:
            raise self._problem(
                f"the scheduler at {self.scheduler} has no workers (waited {WORKER_TIMEOUT:g} "
                f"s); start some: dask worker {self.scheduler} --nthreads 1"
            ) from None
        try:
            client.get_versions(check=True)
        except ValueError as err:
            raise self._problem(
                "the client, scheduler and workers run different versions of Dask or its "
                f"dependencies; install the same ones everywhere. {err}"
            ) from None
        try:
            versions = client.run(_version_or_error)
        except Exception as err:  # e.g. a worker that cannot even unpickle our function
            raise self._problem(
                f"the workers of {self.scheduler} cannot run contagion ({type(err).__name__}: "
                f"{err}); install basis-contagion {_version()} in the workers' environment"
            ) from None
        check_worker_versions(versions, _version(), self.scheduler)
        threads = client.nthreads()
        self._threads = sum(threads.values()) or 1
        many = {w: n for w, n in threads.items() if n > 1}
        if many:
            log.warning(
                "%d of %d Dask workers run more than one thread (%s); the engine holds the "
                "GIL, so extra threads add no speed and can stall a worker's event loop: "
                "start workers with --nthreads 1 and more processes (--nworkers N)",
                len(many), len(threads), ", ".join(f"{w}: {n}" for w, n in sorted(many.items())),
            )  # fmt: skip

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        dd = _distributed()
        if self.scheduler is None:
            with (
                dd.LocalCluster(
                    n_workers=self.workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    # None would still try port 8787 (a warning, an error under pytest,
                    # when another cluster has it): a free port on loopback instead
                    dashboard_address="127.0.0.1:0",
                ) as cluster,
                dd.Client(cluster, set_as_default=False) as client,
            ):
                _log_dashboard(client)
                yield client
            return
        with self._connect() as client:
            self._check_cluster(client)
            _log_dashboard(client)
            yield client

    def run(self, work: Work, chunks: Sequence[Chunk]) -> Iterator[tuple[int, list[Row]]]:
        dd = _distributed()
        payload = pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL)
        token = hashlib.sha256(payload).hexdigest()[:12]
        with self.client() as client:
            # a task, not client.scatter: its result can be recomputed after worker loss
            shared = client.submit(_unpickle, payload, pure=False, key=f"work-{token}")
            pending: dict[Any, tuple[Chunk, int]] = {}

            def submit(chunk: Chunk, attempt: int) -> Any:
                key = f"{token}-{chunk.name}" + (f"-retry{attempt}" if attempt else "")
                future = client.submit(_run_chunk, shared, chunk, pure=False, key=key)
                pending[future] = (chunk, attempt)
                return future

            finishing = dd.as_completed([submit(c, 0) for c in chunks], loop=client.loop)
            try:
                for future in finishing:
                    chunk, attempt = pending.pop(future)
                    if future.status == "finished":
                        yield future.result()
                        continue
                    if not _lost(future) or attempt >= RESUBMIT:
                        future.result()  # raises the task's own error
                        raise RuntimeError(f"chunk {chunk.name} was {future.status}")
                    log.warning(
                        "chunk %s lost with its Dask workers (%s); submitting it again "
                        "(%d of %d)", chunk.name, future.status, attempt + 1, RESUBMIT,
                    )  # fmt: skip
                    finishing.add(submit(chunk, attempt + 1))
            finally:
                client.cancel([*pending, shared])


def _lost(future: Any) -> bool:
    """Whether a failed chunk was lost with its workers (resubmit) rather than raised."""
    if future.status in ("cancelled", "lost"):
        return True
    from distributed import KilledWorker

    return isinstance(future.exception(), KilledWorker)


def _version_or_error() -> str:
    """On a worker: the contagion version, or why it cannot be imported."""
    try:
        from contagion import __version__
    except Exception as err:  # reported by check_worker_versions
        return f"error: {type(err).__name__}: {err}"
    return __version__


def check_worker_versions(versions: Mapping[str, str], mine: str, scheduler: str | None) -> None:
    """InputError unless every worker imports ``contagion`` at version ``mine``.

    >>> check_worker_versions({"tcp://10.0.0.2:4000": "1.0"}, "1.0", "tcp://s:8786")
    """
    where = f"the cluster at {scheduler}"
    broken = {w: v for w, v in versions.items() if v.startswith("error:")}
    if broken:
        raise InputError(
            Problem(
                "option",
                "scheduler",
                f"{len(broken)} worker(s) of {where} cannot import contagion "
                f"({'; '.join(f'{w}: {v[7:]}' for w, v in sorted(broken.items()))}); install "
                f"basis-contagion {mine} in the workers' environment",
            )
        )
    theirs = set(versions.values())
    if theirs - {mine}:
        raise InputError(
            Problem(
                "option",
                "scheduler",
                f"workers of {where} run contagion {', '.join(sorted(theirs))}; this is {mine} "
                f"(results would not be comparable); install basis-contagion {mine} on them",
            )
        )


def _log_dashboard(client: Any) -> None:
    link = getattr(client, "dashboard_link", None)
    try:
        has_dashboard = bool(client.scheduler_info().get("services", {}).get("dashboard"))
    except Exception:  # pragma: no cover - an old scheduler
        has_dashboard = False
    if link and has_dashboard:
        log.info("Dask dashboard: %s", link)
        return
    import importlib.util

    why = "it is turned off" if importlib.util.find_spec("bokeh") else "pip install bokeh"
    log.info("Dask scheduler %s (no dashboard: %s)", client.scheduler.address, why)


def make_executor(
    backend: str | None = None, workers: int | None = None, scheduler: str | None = None
) -> Executor:
    """The executor for the options: ``backend`` None picks ``dask`` with a scheduler,
    ``processes`` with more than one worker, ``serial`` otherwise.

    A Dask executor is checked here, before any simulation runs (:meth:`DaskExecutor.check`).
    """
    if workers is not None and (
        isinstance(workers, bool) or int(workers) != workers or workers < 1
    ):
        raise InputError(Problem("option", "workers", "must be a whole number >= 1"))
    if backend is None:
        backend = "dask" if scheduler else "processes" if (workers or 1) > 1 else "serial"
    if backend not in BACKENDS:
        raise InputError(Problem("option", "backend", f"use one of {', '.join(BACKENDS)}"))
    if scheduler is not None and backend != "dask":
        raise InputError(Problem("option", "scheduler", "needs the dask backend"))
    if scheduler is not None and workers is not None:
        raise InputError(
            Problem("option", "scheduler", "use either workers (a local cluster) or scheduler")
        )
    if backend == "serial":
        return SerialExecutor()
    if backend == "processes":
        return JoblibExecutor(workers or os.cpu_count() or 1)
    executor = DaskExecutor(workers=workers, scheduler=scheduler)
    executor.check()  # before the point runs: dask installed, the cluster usable
    return executor


# --- checkpoints -------------------------------------------------------------------------
def config_hash(
    system: Any,
    scenario: Any,
    arms: Mapping[str, Sequence],
    seed: Any,
    draws: int,
    uncertainty: Mapping[str, Sequence] | None,
    size: int,
) -> str:
    """Hash of everything that determines the draws frame."""
    from contagion.io import to_dict

    doc = {
        "format": 2,  # 2: chunk files carry their SHA-256
        "version": _version(),
        "system": to_dict(system),
        "scenario": scenario.model_dump(mode="json"),
        "arms": {
            name: [{"class": type(p).__name__, **p.model_dump(mode="json")} for p in pols]
            for name, pols in arms.items()
        },
        "seed": seed,
        "draws": draws,
        "uncertainty": None
        if uncertainty is None
        else {k: list(v) for k, v in uncertainty.items()},
        "chunk_size": size,
    }
    text = json.dumps(doc, sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def seed_key(rng: Any) -> Any:
    """A JSON-able description of a seed (None when it is not reproducible)."""
    if isinstance(rng, np.random.SeedSequence):
        return {
            "entropy": str(rng.entropy),
            "spawn_key": list(rng.spawn_key),
            "children": rng.n_children_spawned,
        }
    if isinstance(rng, int) and not isinstance(rng, bool):
        return rng
    return None


class CheckpointWarning(UserWarning):
    """A checkpoint chunk failed its checksum or checks and is being recomputed."""


class Checkpoint:
    """A directory of finished chunks of one experiment (module docstring)."""

    META = "checkpoint.json"

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)
        self._lock: OutputDirectory | None = None

    def _problem(self, reason: str) -> InputError:
        return InputError(Problem("checkpoint", str(self.dir), reason))

    def read_meta(self) -> dict[str, Any] | None:
        path = self.dir / self.META
        if not path.exists():
            return None
        try:
            meta = json.loads(read_text(path))
            if not isinstance(meta, dict) or "config_hash" not in meta:
                raise ValueError("no config_hash")
        except InputError as err:
            raise self._problem(f"{self.META}: {err.problems[0].reason}") from None
        except (ValueError, RecursionError) as err:
            raise self._problem(f"{self.META} is unreadable ({err}); use a new directory") from None
        return meta

    def open(self, config: str, **meta: Any) -> None:
        """Start or resume (locking the directory): refuse a directory holding another
        experiment's draws."""
        if self.dir.exists() and not self.dir.is_dir():
            raise self._problem("is a file, not a directory")
        if self._lock is None:
            self._lock = OutputDirectory(self.dir, option="--checkpoint").acquire()
        try:
            self._open(config, **meta)
        except BaseException:
            self.close()
            raise

    def _open(self, config: str, **meta: Any) -> None:
        for tmp in self.dir.glob(".*.tmp"):  # temp files of a killed sweep (we hold the lock)
            tmp.unlink(missing_ok=True)
        old = self.read_meta()
        if old is not None:
            if old["config_hash"] != config:
                raise self._problem(
                    "holds draws of a different experiment (system, scenario, arms, seed, "
                    "draws, uncertainty or version differ); use a new directory or delete it"
                )
            return
        if any(self.dir.glob("draws-*.parquet")):
            raise self._problem(f"holds draws but no {self.META}; use a new directory")
        text = json.dumps({"config_hash": config, **meta}, indent=1)
        atomic_write_bytes(self.dir / self.META, text.encode("utf-8"))

    def close(self) -> None:
        """Release the directory's lock."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _files(self, chunk: Chunk) -> list[Path]:
        pattern = re.compile(rf"draws-{chunk.first}-{chunk.last}\.([0-9a-f]{{64}})\.parquet")
        return [p for p in self.dir.glob(f"draws-{chunk.first}-{chunk.last}.*.parquet")
                if pattern.fullmatch(p.name)]  # fmt: skip

    def load(self, chunk: Chunk, arms: Sequence[str]) -> list[Row] | None:
        """The rows of a finished chunk, or None (missing, or damaged: recomputed)."""
        for path in self._files(chunk):
            rows = self._verified(path, chunk, arms)
            if rows is not None:
                return rows
            warnings.warn(
                f"checkpoint {path} is damaged (checksum or content); recomputing its draws",
                CheckpointWarning,
                stacklevel=2,
            )
            path.unlink(missing_ok=True)
        return None

    @staticmethod
    def _verified(path: Path, chunk: Chunk, arms: Sequence[str]) -> list[Row] | None:
        try:
            data = read_bytes(path, limit=MAX_DATA_BYTES)
        except InputError:
            return None
        if hashlib.sha256(data).hexdigest() != path.name.split(".")[1]:
            return None
        try:
            df = pd.read_parquet(io.BytesIO(data))
        except Exception:  # the checksum matched: only a file written wrongly gets here
            return None
        if (
            list(df.columns) != COLUMNS
            or set(df["draw"]) != set(range(chunk.first, chunk.last + 1))
            or set(df["arm"]) != set(arms)
        ):
            return None
        return [
            (str(a), int(d), str(m), float(v))
            for a, d, m, v in zip(df["arm"], df["draw"], df["metric"], df["value"], strict=True)
        ]

    def save(self, chunk: Chunk, rows: list[Row]) -> None:
        """Write a chunk atomically, its SHA-256 in the name; drop older copies."""
        buf = io.BytesIO()
        pd.DataFrame(rows, columns=COLUMNS).to_parquet(buf, index=False)
        data = buf.getvalue()
        stem = chunk.name.removesuffix(".parquet")
        path = self.dir / f"{stem}.{hashlib.sha256(data).hexdigest()}.parquet"
        atomic_write_bytes(path, data)
        for old in self._files(chunk):
            if old != path:
                old.unlink(missing_ok=True)
