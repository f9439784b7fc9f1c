"""Execution backends of experiment draws: identical results serial, in processes and on
Dask; checkpoints that survive an interrupted sweep and refuse another experiment."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

import contagion as c
import contagion.engine
from contagion import backends
from contagion.cli import app
from contagion.experiment import experiment
from contagion.policies import QEConfig

ARMS = {"qe": [QEConfig(reactive_share=0.5, budget_usd_bn=50)]}  # plus no_action: 2 arms
DRAWS, SEED, CHUNK = 6, 7, 2  # three chunks of two draws


@pytest.fixture(scope="module")
def inputs():
    return c.examples.toy_basis_trade(), c.scenarios.load("volatility_spike")


@pytest.fixture(scope="module")
def reference(inputs):
    """The uninterrupted serial run (the default path, no chunking options)."""
    return experiment(*inputs, ARMS, draws=DRAWS, rng=SEED).draws


def run(inputs, **options):
    return experiment(
        *inputs, ARMS, **{"draws": DRAWS, "rng": SEED, "chunk_size": CHUNK, **options}
    )


def test_reference_frame_is_paired_and_complete(reference):
    assert list(reference.columns) == backends.COLUMNS
    assert sorted(reference["draw"].unique()) == list(range(DRAWS))
    assert set(reference["arm"]) == {"no_action", "qe"}
    # every arm of a draw ran with the same parameters
    params = reference[reference["metric"].str.startswith("param:")]
    assert (params.groupby(["draw", "metric"])["value"].nunique() == 1).all()


def test_chunked_serial_equals_the_default(inputs, reference):
    pd.testing.assert_frame_equal(run(inputs).draws, reference)
    pd.testing.assert_frame_equal(run(inputs, backend="serial", chunk_size=5).draws, reference)


def test_joblib_processes_give_identical_draws(inputs, reference):
    pd.testing.assert_frame_equal(run(inputs, workers=2).draws, reference)


def test_dask_local_cluster_gives_identical_draws(inputs, reference):
    pd.testing.assert_frame_equal(run(inputs, backend="dask", workers=2).draws, reference)


def test_local_cluster_binds_to_loopback():
    with backends.DaskExecutor(workers=1).client() as client:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        workers = client.scheduler_info()["workers"]
        assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers)


def test_existing_dask_cluster_by_address_gives_identical_draws(inputs, reference):
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        result = run(inputs, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(result.draws, reference)


def test_unreachable_scheduler_is_an_input_error_before_any_simulation(inputs, monkeypatch):
    monkeypatch.setattr(backends, "CONNECT_TIMEOUT", "0.5s")
    calls = count_simulations(monkeypatch)
    with pytest.raises(c.InputError, match=r"cannot connect to tcp://127\.0\.0\.1:1"):
        run(inputs, scheduler="tcp://127.0.0.1:1")
    assert calls[0] == 0  # checked before the point runs


def test_losing_every_dask_worker_mid_run_still_finishes_with_the_serial_draws(inputs):
    """Kill both workers of a loopback cluster once the first chunk is in: the payload is
    recomputed, the lost chunks run again when the nannies restart the workers, and the
    draws equal a serial run."""
    import os
    import signal

    from dask.distributed import Client, LocalCluster

    draws = 24  # one draw per chunk: most chunks are queued or running at the kill
    serial = experiment(*inputs, ARMS, draws=draws, rng=SEED).draws
    killed: list[tuple[int, list[int]]] = []
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):  # fmt: skip

        def kill_every_worker_once(done: int, total: int) -> None:
            if done and not killed:
                pids = list(client.run(os.getpid).values())
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                killed.append((done, pids))

        result = experiment(*inputs, ARMS, draws=draws, rng=SEED, chunk_size=1,
                            scheduler=cluster.scheduler_address,
                            progress=kill_every_worker_once)  # fmt: skip
        after = set(client.run(os.getpid).values())
    ((done, pids),) = killed
    assert done < draws / 2, "the kill came too late to test anything"
    assert len(pids) == 2 and not after & set(pids)  # new worker processes finished the run
    pd.testing.assert_frame_equal(result.draws, serial)


def test_multithreaded_workers_get_a_warning_and_the_dashboard_is_logged(inputs, caplog):
    import logging

    from dask.distributed import LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                     dashboard_address="127.0.0.1:0") as cluster,
        caplog.at_level(logging.INFO, logger="contagion"),
    ):  # fmt: skip
        experiment(*inputs, ARMS, draws=1, rng=SEED, scheduler=cluster.scheduler_address)
    messages = [r.getMessage() for r in caplog.records]
    assert any("1 of 1 Dask workers run more than one thread" in m for m in messages)
    assert any(m.startswith("Dask dashboard: http://127.0.0.1:") for m in messages)


def test_scheduler_without_workers_is_an_input_error_before_any_simulation(inputs, monkeypatch):
    from dask.distributed import LocalCluster

    monkeypatch.setattr(backends, "WORKER_TIMEOUT", 0.5)
    calls = count_simulations(monkeypatch)
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        with pytest.raises(c.InputError, match=r"has no workers.*dask worker tcp://127"):
            run(inputs, scheduler=cluster.scheduler_address)
    assert calls[0] == 0


@pytest.mark.parametrize(
    "setup, needle",
    [
        ("sys.modules['contagion'] = None", r"cannot run contagion.*install basis-contagion"),
        ("import contagion; contagion.__version__ = '0.0.1'",
         r"run contagion 0\.0\.1; this is .*install basis-contagion"),
    ],
    ids=["without contagion", "another version"],
)  # fmt: skip
def test_a_worker_without_contagion_or_at_another_version_is_an_input_error(
    inputs, monkeypatch, setup, needle
):
    """A real worker process joins the cluster: ``import contagion`` fails in it, or gives
    another version."""
    import subprocess
    import sys

    from dask.distributed import LocalCluster

    calls = count_simulations(monkeypatch)
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        code = (
            f"import sys; {setup}; "
            "from distributed.cli.dask_worker import main; "
            f"sys.argv = ['dask-worker', '{cluster.scheduler_address}', '--nthreads', '1', "
            "'--no-nanny', '--host', '127.0.0.1', '--no-dashboard']; main()"
        )
        worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            with pytest.raises(c.InputError, match=needle):
                run(inputs, scheduler=cluster.scheduler_address)
        finally:
            worker.terminate()
            worker.wait(30)
    assert calls[0] == 0


@pytest.mark.parametrize(
    "versions, needle",
    [
        ({"tcp://a:1": "2.0", "tcp://b:1": "1.0"}, "workers of the cluster at tcp://s:1 run "
         "contagion 1.0, 2.0; this is 1.0"),
        ({"tcp://a:1": "error: ModuleNotFoundError: No module named 'contagion'"},
         "cannot import contagion (tcp://a:1: ModuleNotFoundError"),
    ],
)  # fmt: skip
def test_worker_without_contagion_or_another_version_is_an_input_error(versions, needle):
    with pytest.raises(c.InputError, match=r"install basis-contagion 1\.0") as err:
        backends.check_worker_versions(versions, "1.0", "tcp://s:1")
    assert needle in str(err.value)


def test_missing_dask_is_an_input_error_saying_how_to_install(inputs, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith(("dask", "distributed")):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(c.InputError, match=r"pip install 'basis-contagion\[dask\]'"):
        run(inputs, backend="dask", workers=1)


def test_chunks_shrink_with_the_cluster_so_every_thread_has_work():
    assert backends.chunk_size(1000) == 50  # serial, or a few workers: unchanged
    assert backends.chunk_size(1000, slots=100) == 3  # 334 chunks for 100 threads
    assert backends.chunk_size(3, slots=100) == 1


class Stop(Exception):
    pass


def stop_after_first_chunk(done: int, total: int) -> None:
    assert total == DRAWS
    if done >= CHUNK:
        raise Stop


def count_simulations(monkeypatch) -> list[int]:
    """Count runs: point runs and draws both record a ``Simulation`` once."""
    calls = [0]
    plain = contagion.engine.Simulation.record

    def counting(self, *args, **kwargs):
        calls[0] += 1
        return plain(self, *args, **kwargs)

    monkeypatch.setattr(contagion.engine.Simulation, "record", counting)
    return calls


@pytest.mark.parametrize("first_backend", ["serial", "processes", "dask"])
def test_interrupted_sweep_resumes_with_only_the_missing_chunks(
    inputs, reference, tmp_path, monkeypatch, first_backend
):
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Stop):
        run(inputs, backend=first_backend, workers=None if first_backend == "serial" else 2,
            checkpoint_dir=ckpt, progress=stop_after_first_chunk)  # fmt: skip
    kept = sorted(p.name for p in ckpt.glob("draws-*.parquet"))
    # the file name carries the SHA-256 of its bytes
    assert len(kept) == 1 and re.fullmatch(r"draws-(0-1|2-3|4-5)\.[0-9a-f]{64}\.parquet", kept[0])
    assert not list(ckpt.glob(".*tmp"))  # written atomically
    before = (ckpt / kept[0]).stat().st_mtime_ns
    seen = []
    calls = count_simulations(monkeypatch)
    result = run(inputs, checkpoint_dir=ckpt, progress=lambda d, t: seen.append(d))
    # point runs of both arms, then the two missing chunks only (2 draws x 2 arms each)
    assert calls[0] == 2 + 2 * CHUNK * 2
    assert seen == [2, 4, 6]
    assert (ckpt / kept[0]).stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(result.draws, reference)
    # a third run computes no draw at all
    calls[0] = 0
    pd.testing.assert_frame_equal(run(inputs, checkpoint_dir=ckpt).draws, reference)
    assert calls[0] == 2


def test_checkpoint_of_another_experiment_is_refused(inputs, tmp_path):
    ckpt = tmp_path / "ckpt"
    run(inputs, checkpoint_dir=ckpt)
    meta = json.loads((ckpt / "checkpoint.json").read_text())
    assert meta["draws"] == DRAWS and meta["chunk_size"] == CHUNK
    for change in ({"rng": SEED + 1}, {"draws": DRAWS + 1}):
        options = {"draws": DRAWS, "rng": SEED, **change}
        with pytest.raises(c.InputError, match="different experiment"):
            experiment(*inputs, ARMS, chunk_size=CHUNK, checkpoint_dir=ckpt, **options)
    with pytest.raises(c.InputError, match="different experiment"):
        experiment(*inputs, {"qe": []}, draws=DRAWS, rng=SEED, chunk_size=CHUNK,
                   checkpoint_dir=ckpt)  # fmt: skip
    # draws without checkpoint.json are not mixed in either
    (ckpt / "checkpoint.json").unlink()
    with pytest.raises(c.InputError, match=r"no checkpoint\.json"):
        run(inputs, checkpoint_dir=ckpt)


def test_unseeded_checkpoint_keeps_its_entropy(inputs, tmp_path):
    ckpt = tmp_path / "ckpt"
    first = experiment(*inputs, ARMS, draws=2, chunk_size=1, checkpoint_dir=ckpt).draws
    (chunk,) = ckpt.glob("draws-1-1.*.parquet")
    chunk.unlink()
    again = experiment(*inputs, ARMS, draws=2, chunk_size=1, checkpoint_dir=ckpt).draws
    pd.testing.assert_frame_equal(again, first)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"backend": "threads"}, "backend"),
        ({"workers": 0}, "workers"),
        ({"backend": "processes", "scheduler": "tcp://127.0.0.1:8786"}, "scheduler"),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "scheduler"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_options_are_input_errors(inputs, options, field):
    with pytest.raises(c.InputError) as err:
        experiment(*inputs, ARMS, draws=2, **options)
    assert err.value.field == field


def test_cli_workers_and_scheduler_are_mutually_exclusive(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text("system: toy_basis_trade\nscenario: volatility_spike\narms:\n  qe: []\n")
    r = CliRunner().invoke(app, ["experiment", str(exp), "--draws", "2", "--workers", "2",
                                 "--scheduler", "tcp://127.0.0.1:8786", "--out",
                                 str(tmp_path / "o")])  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "mutually exclusive" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


@pytest.mark.undrawn_figures  # the backends are under test, not the figures (tests/undrawn.py)
def test_cli_experiment_with_workers_and_checkpoint(tmp_path, inputs):
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "system: toy_basis_trade\nscenario: volatility_spike\nseed: 7\narms:\n  qe:\n"
        "    - {type: qe, reactive_share: 0.5, budget_usd_bn: 50}\n"
    )
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    args = ["--draws", "3", "--workers", "2", "--checkpoint", ckpt, "--out", out, "--json"]
    r = CliRunner().invoke(app, ["experiment", str(exp), *map(str, args)])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in ckpt.glob("draws-*"))
    assert [n.split(".")[0] for n in names] == ["draws-0-0", "draws-1-1", "draws-2-2"]
    serial = experiment(*inputs, ARMS, draws=3, rng=SEED).draws
    written = pd.read_csv(out / "draws.csv")
    assert len(written) == len(serial)
    assert written["value"].tolist() == pytest.approx(serial["value"].tolist(), rel=1e-12)
