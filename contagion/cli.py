"""The ``contagion`` command line: parse, load and validate, call the public API, write.

Exit codes: 0 success; 2 invalid input or an unusable environment (one message naming the
file and field, or the Dask cluster, and what to do; no traceback); 1 internal error (a
one-line message and the file holding the traceback, or the traceback itself with
``--debug``).

Messages go to standard error through the ``contagion`` and ``calibration`` loggers (INFO;
WARNING with ``--quiet``; DEBUG with ``--debug``). Progress: a live bar on a terminal, a
line per finished chunk of draws anywhere else (a log, CI, a pipe).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import numbers
import sys
import tempfile
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    no_args_is_help=True,
    help="Network model of a US Treasury basis-trade unwind: run policy experiments and "
    "write reports. `contagion run` with no arguments runs the main job.",
)
system_app = typer.Typer(no_args_is_help=True, help="Summarise, export or validate a system.")
app.add_typer(system_app, name="system")

# a pipe or a CI log has no width: use one wide enough for the summary table
out_console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

DEFAULT_OUT = Path("contagion-report")
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary table.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Report directory to write.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Write into a non-empty --out.")]


def _say(text: str) -> None:
    """Print a message to stderr with control and format characters escaped."""
    from contagion.errors import printable

    err_console.print(printable(text), markup=False)


def _echo(text: str) -> None:
    """Print a line to stdout with control and format characters escaped."""
    from contagion.errors import printable

    typer.echo(printable(text))


def _show_version(value: bool) -> None:
    if value:
        from contagion import __version__

        typer.echo(f"contagion {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Network model of a US Treasury basis-trade unwind: run policy experiments and write
    reports. `contagion run` with no arguments runs the main job."""


class _Formatter(logging.Formatter):
    """``message`` for INFO, ``warning: message`` (the level's name) otherwise; control and
    format characters escaped (log records name systems, scenarios and arms)."""

    def format(self, record: logging.LogRecord) -> str:
        from contagion.errors import printable

        text = printable(super().format(record))
        return text if record.levelno == logging.INFO else f"{record.levelname.lower()}: {text}"


@contextmanager
def _logging(quiet: bool, debug: bool) -> Iterator[None]:
    """Log records of the package to standard error while a command runs."""
    handler = logging.StreamHandler(sys.stderr)  # the stream of this invocation
    handler.setFormatter(_Formatter("%(message)s"))
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    loggers = [logging.getLogger(name) for name in ("contagion", "calibration")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(level)
    try:
        with warnings.catch_warnings():
            # input warnings (an unknown column kept) as one line each, never an error
            from contagion.errors import InputWarning

            warnings.simplefilter("always", InputWarning)
            shown = warnings.showwarning

            def show(message, category, filename, lineno, file=None, line=None):
                if issubclass(category, InputWarning):
                    _say(f"warning: {message}")  # names a column of the user's file
                else:
                    shown(message, category, filename, lineno, file, line)

            warnings.showwarning = show
            yield
    finally:
        for lg, old_level in saved:
            lg.removeHandler(handler)
            lg.setLevel(old_level)


@contextmanager
def _guard(debug: bool = False, quiet: bool = False) -> Iterator[None]:
    """Turn exceptions into exit codes: 2 for invalid input, 1 for internal errors; log
    the package's messages to standard error meanwhile.

    Every message is printed with control and format characters escaped
    (:func:`contagion.errors.printable`): names from input files cannot rewrite the terminal.
    """
    with _logging(quiet, debug), _exit_codes(debug):
        yield


@contextmanager
def _exit_codes(debug: bool) -> Iterator[None]:
    import yaml

    from contagion.errors import InputError

    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except InputError as err:
        _say(f"error: {err}")
        raise typer.Exit(2) from None
    except OSError as err:  # a file named on the command line: missing, a loop, no access
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        _say(f"error: {where}{err.strerror or err}")
        raise typer.Exit(2) from None
    except yaml.YAMLError as err:
        _say(f"error: invalid YAML: {str(err).splitlines()[0]}")
        raise typer.Exit(2) from None
    except Exception as err:
        if debug:
            raise
        fd, log = tempfile.mkstemp(prefix="contagion-traceback-", suffix=".log")
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
        first = str(err).splitlines()[0] if str(err) else ""
        _say(
            f"internal error: {type(err).__name__}: {first} (traceback in {log}; rerun with "
            "--debug to see it)"
        )
        raise typer.Exit(1) from None


def _system(spec: str):
    from contagion import examples
    from contagion.io import load_system

    return examples.load_bundled(spec) if spec in examples.BUNDLED else load_system(spec)


def _scenario(spec: str):
    from contagion import scenarios
    from contagion.scenario import load_scenario

    return scenarios.load(spec) if spec in scenarios.available() else load_scenario(spec)


def _default_experiment():
    from contagion.experiment import default_experiment

    return default_experiment()


COUNTS = ("defaults", "reduction_defaults", "n_institutions", "n_exposures", "days")


def _clean(x: Any, key: str = "") -> Any:
    """JSON-safe values: integers stay integers (and counts held as floats become
    integers), NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(x, dict):
        return {str(k): _clean(v, str(k)) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v, key) for v in x]
    if isinstance(x, bool | None | str):
        return x
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        x = float(x)
        if not math.isfinite(x):
            return None
        is_count = key in COUNTS or key.endswith(".n")
        return int(x) if is_count and x.is_integer() else x
    return x


@contextmanager
def _output(out: Path, overwrite: bool) -> Iterator[Any]:
    """The ``--out`` folder, checked and locked for the whole command (another process
    writing to it makes this one fail at once; see :func:`contagion.report.open_output`)."""
    from contagion.report import open_output

    target = open_output(out, overwrite=overwrite)
    try:
        yield target
    except BaseException:
        target.abandon()  # a folder made for this run and left empty is removed
        raise
    finally:
        target.release()


def _file(spec: str | None, bundled: tuple[str, ...] | None = None) -> str | None:
    """The file a command-line system or scenario names (None for a bundled name)."""
    from contagion import examples

    names = examples.BUNDLED if bundled is None else bundled
    return None if spec is None or spec in names else spec


def _bundled_scenarios() -> tuple[str, ...]:
    from contagion import scenarios

    return tuple(scenarios.available())


def _arms(arms) -> dict[str, list]:
    """Arms checked: safe names, an empty baseline (:func:`contagion.experiment.check_arms`)."""
    from contagion.experiment import check_arms

    return check_arms(arms)


def _arms_text(arms) -> str:
    """``3 arms (no_action, qe, srf)``: the arms that run, ``no_action`` included."""
    names = list(arms) if "no_action" in arms else ["no_action", *arms]
    return f"{len(names)} arm{'s' if len(names) != 1 else ''} ({', '.join(names)})"


def _finish(result, system, target, *, draws, seed, title, quiet, as_json) -> None:
    """Write the report into the locked ``target``, then print the summary table (or JSON)."""
    from rich.text import Text

    from contagion.errors import printable
    from contagion.report import labels, write_report
    from contagion.report.render import fmt, summary_table, yield_label

    out = target.path
    with _status(quiet or as_json, "Writing the report"):
        html = write_report(result, system, target, draws=draws, seed=seed, title=title)
    if as_json:
        arms = result.metrics.join(result.effectiveness).to_dict(orient="index")
        doc = {"out": str(Path(out)), "report": str(html), "arms": arms,
               "parameters": getattr(result, "parameters", {})}  # fmt: skip
        if getattr(result, "sensitivity", None) is not None:
            doc["sensitivity"] = str(Path(out) / "sensitivity.csv")
        typer.echo(json.dumps(_clean(doc), indent=1))
        return
    if quiet:
        return
    y = yield_label(next(iter(result.results.values())).summary)
    table = summary_table(result.metrics, result.effectiveness, y, draws=result.draws,
                          names=labels.arm_labels(result.results))  # fmt: skip
    n = result.draws["draw"].nunique() if len(result.draws) else 0
    how = f"median [p10–p90] of {n} draws" if n else "central run, no parameter draws"
    from rich.markup import escape

    t = Table(title=escape(f"Policy experiment ({len(table)} arms; {how})"), title_justify="left")
    t.add_column("arm", no_wrap=True)
    for c in table.columns:
        t.add_column(c, justify="right", max_width=14)
    for arm, row in table.iterrows():
        cells = (fmt(v, 0 if c == "Defaults" else 1) for c, v in row.items())
        t.add_row(Text(printable(str(arm))), *cells)  # Text: no markup, no escapes
    out_console.print(t)
    params = getattr(result, "parameters", None) or {}
    if params.get("description"):  # names the system: text from outside
        out_console.print(printable(str(params["description"])), markup=False)
    out_console.print(f"Report: {printable(str(html))}", markup=False)


@contextmanager
def _status(quiet: bool, message: str) -> Iterator[None]:
    """A spinner on a terminal; the message as one line anywhere else."""
    if quiet:
        yield
    elif not err_console.is_terminal:
        _say(f"{message} ...")
        yield
    else:
        with err_console.status(message):
            yield


Workers = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Run the draws in N local processes (joblib)."),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run the draws on an existing Dask cluster (tcp://host:8786; needs the dask "
        "extra). Start its workers single-threaded: dask worker ADDRESS --nthreads 1.",
    ),
]
ParameterSet = Annotated[
    str | None,
    typer.Option(
        "--parameter-set",
        help="auto (fitted where the system carries a fit), fitted, or defaults (opt out).",
    ),
]
Checkpoint = Annotated[
    Path | None,
    typer.Option(
        "--checkpoint",
        help="Write finished chunks of draws to DIR; a rerun skips them (resume).",
    ),
]


def load_experiment_with(cfg, file: Path, **changes: Any):
    """``cfg`` with options from the command line, validated like the file."""
    from contagion.errors import InputError
    from contagion.experiment import ExperimentConfig, config_parameters

    try:
        cfg = ExperimentConfig.model_validate({**cfg.model_dump(), **changes})
        if changes.get("parameter_set") == "defaults" and cfg.model_params in (
            "system",
            "fitted",
        ):  # the command line opts out of the file's fitted parameters
            cfg = cfg.model_copy(update={"model_params": None})
        config_parameters(cfg)
    except ValueError as err:
        if isinstance(err, InputError):
            raise err.with_source(str(file)) from None
        raise InputError.from_validation(err, "option", "--parameter-set") from None
    return cfg


def _one_backend(workers: int | None, scheduler: str | None) -> None:
    """``--workers`` and ``--scheduler`` exclude each other (exit 2)."""
    from contagion.errors import InputError, Problem

    if workers is not None and scheduler is not None:
        raise InputError(
            Problem(
                "option",
                "--scheduler",
                "--workers and --scheduler are mutually exclusive: use --workers N for local "
                "processes or --scheduler ADDRESS for an existing Dask cluster",
            )
        )


def _run_experiment(
    system, scenario, arms, *, draws, seed, quiet, uncertainty=None, workers=None,
    scheduler=None, checkpoint=None, message=None, sampling="random", parameter_set="auto",
    model_params=None, standing=None,
):  # fmt: skip
    """Run an experiment; a progress bar across the draws (a spinner without draws)."""
    from contagion.experiment import experiment

    _one_backend(workers, scheduler)
    message = message or f"Simulating {_arms_text(arms)}" + (
        f" with {draws} parameter draw{'s' if draws != 1 else ''}" if draws else ""
    )
    options = {
        "draws": draws, "rng": seed, "uncertainty": uncertainty, "workers": workers,
        "scheduler": scheduler, "checkpoint_dir": checkpoint, "sampling": sampling,
        "parameter_set": parameter_set, "model_params": model_params, "standing": standing,
    }  # fmt: skip
    if quiet or not draws:
        with _status(quiet, message):
            return experiment(system, scenario, arms, **options)
    if not err_console.is_terminal:  # a log or a pipe: a line per finished chunk
        from contagion.progress import ProgressLines

        _say(message)
        lines = ProgressLines("Parameter draws", stream=sys.stderr)
        return experiment(system, scenario, arms, progress=lines, **options)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("draws"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err_console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(message, total=draws)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return experiment(system, scenario, arms, progress=progress, **options)


def _run_sensitivity(cfg, system, scenario, result, *, quiet, workers, scheduler, checkpoint):
    """Attach the Sobol' indices of ``cfg.sensitivity`` (a progress bar across the points)."""
    from contagion.sensitivity import run_sensitivity

    sens = cfg.sensitivity
    k = len(cfg.uncertainty) if cfg.uncertainty is not None else None
    if k is None:
        from contagion.experiment import DEFAULT_UNCERTAINTY

        k = len(DEFAULT_UNCERTAINTY)
    points = sens.base_samples * (k + 2)
    message = f"Sobol' sensitivity: {points} parameter points x {len(result.metrics)} arms"
    options = {"workers": workers, "scheduler": scheduler, "checkpoint_dir": checkpoint}
    if quiet:
        return run_sensitivity(cfg, system, scenario, result, **options)
    if not err_console.is_terminal:  # a log or a pipe: a line per finished chunk
        from contagion.progress import ProgressLines

        _say(message)
        lines = ProgressLines("Sobol' points", stream=sys.stderr)
        return run_sensitivity(cfg, system, scenario, result, progress=lines, **options)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("points"), console=err_console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(message, total=points)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_sensitivity(cfg, system, scenario, result, progress=progress, **options)


@app.command()
def run(
    scenario: Annotated[
        str | None, typer.Argument(help="Scenario YAML/JSON file or bundled name.")
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", help="System file/CSV folder or bundled name.")
    ] = None,
    policy: Annotated[
        list[Path] | None,
        typer.Option("--policy", help="Policy YAML/JSON file; one arm per file (repeatable)."),
    ] = None,
    draws: Annotated[
        int | None,
        typer.Option("--draws", min=0, help="Parameter draws (default: the main job's, 64)."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            help="Seed of the parameter draws (default: the default experiment's, so runs repeat).",
        ),
    ] = None,
    parameter_set: ParameterSet = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    checkpoint: Checkpoint = None,
    out: Out = DEFAULT_OUT,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """Run no action versus policy arms and write a report.

    With no arguments this is the main job: the bundled calibrated_us_2025 system under the
    bundled basis_unwind scenario, no action versus the arms of the default experiment
    (QE and SWF at USD 500 bn, the SRF centrally cleared, SLR relief, the basis facility),
    with the standing SRF in force in every arm and 64 Sobol' draws of the fitted
    parameters. A calibrated system runs with its fitted model parameters
    wherever the scenario does not set its own (--parameter-set defaults: without them).
    """
    from contagion.experiment import check_compatible, resolve_parameters, with_standing
    from contagion.policies import load_policy

    # the --out folder is checked and locked before anything is simulated
    with _guard(debug, quiet or as_json), _output(out, overwrite) as target:
        _one_backend(workers, scheduler)
        cfg = _default_experiment()
        if seed is not None:
            cfg = cfg.model_copy(update={"seed": seed})
        sys_ = _system(system or cfg.system)
        sc = _scenario(scenario or cfg.scenario)
        # a calibrated system runs with its fitted parameters and draws around them
        pset = parameter_set or ("fitted" if system is None else "auto")
        n = cfg.draws if draws is None else draws
        sources: dict[str, str] = {}
        if policy:
            arms: dict[str, list] = {"no_action": []}
            for path in policy:
                pol = load_policy(path)
                name = pol.name or path.stem
                while name in arms:
                    name += "_"
                arms[name] = [pol]
                sources[name] = str(path)
        else:
            arms = dict(cfg.arms)
        # the default system's standing facilities are in force in every arm
        standing = cfg.standing if system is None or system == cfg.system else []
        check_compatible(  # the parameters do not matter here, the paths of errors do
            sys_, resolve_parameters(sys_, sc, pset).scenario, with_standing(_arms(arms), standing),
            system_source=_file(system), arm_sources=sources,
            scenario_source=_file(scenario, bundled=_bundled_scenarios()),
        )  # fmt: skip
        result = _run_experiment(sys_, sc, arms, draws=n, seed=cfg.seed,
                                 quiet=quiet or as_json, workers=workers, sampling=cfg.sampling,
                                 scheduler=scheduler, checkpoint=checkpoint,
                                 parameter_set=pset, standing=standing)  # fmt: skip
        title = "Main job: basis-trade unwind policy experiment" if not (
            scenario or system or policy
        ) else "Policy experiment"  # fmt: skip
        _finish(result, sys_, target, draws=n, seed=cfg.seed, title=title,
                quiet=quiet, as_json=as_json)  # fmt: skip


@app.command("experiment")
def experiment_cmd(
    file: Annotated[Path, typer.Argument(help="Experiment YAML/JSON (system, scenario, arms).")],
    draws: Annotated[
        int | None, typer.Option("--draws", min=0, help="Parameter draws (overrides the file).")
    ] = None,
    parameter_set: ParameterSet = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    checkpoint: Checkpoint = None,
    out: Out = DEFAULT_OUT,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """Run an experiment file (system, scenario, arms, draws) and write a report.

    Relative system and scenario paths in the file are read relative to it and must stay
    inside its directory. A system with fitted parameters runs with them unless the file
    says parameter_set: defaults (or --parameter-set defaults).
    """
    from contagion.errors import InputError, printable
    from contagion.experiment import (
        check_compatible,
        load_experiment,
        resolve_config,
        with_standing,
    )
    from contagion.paths import experiment_inputs

    with _guard(debug, quiet or as_json):
        _one_backend(workers, scheduler)
        cfg = load_experiment(file)
        if parameter_set is not None:
            cfg = load_experiment_with(cfg, file, parameter_set=parameter_set)
    with _guard(debug, quiet or as_json), _output(out, overwrite) as target:
        sys_file, sc_file = experiment_inputs(cfg, file.parent, source=str(file))
        sys_ = _system(cfg.system if sys_file is None else str(sys_file))
        sc = _scenario(cfg.scenario if sc_file is None else str(sc_file))
        try:  # a contradiction between the file and the system names the file
            resolved = resolve_config(cfg, sys_, sc)
        except InputError as err:
            raise err.with_source(str(file)) from None
        check_compatible(
            sys_, resolved.scenario, with_standing(_arms(cfg.arms), cfg.standing),
            arm_sources=dict.fromkeys([*cfg.arms, "no_action"], str(file)),
            system_source=None if sys_file is None else str(sys_file),
            scenario_source=None if sc_file is None else str(sc_file),
        )  # fmt: skip
        n = cfg.draws if draws is None else draws
        result = _run_experiment(
            sys_, sc, cfg.arms, draws=n, seed=cfg.seed, quiet=quiet or as_json,
            uncertainty=cfg.uncertainty, workers=workers, scheduler=scheduler,
            checkpoint=checkpoint, sampling=cfg.sampling,
            parameter_set=resolved.record["requested"], model_params=cfg.model_params
            if isinstance(cfg.model_params, dict) else None, standing=cfg.standing,
        )  # fmt: skip
        cfg = cfg.model_copy(update={"uncertainty": resolved.uncertainty})
        if cfg.sensitivity is not None:  # written beside the results as sensitivity.csv
            result = _run_sensitivity(cfg, sys_, sc, result, quiet=quiet or as_json,
                                      workers=workers, scheduler=scheduler,
                                      checkpoint=checkpoint)  # fmt: skip
        title = f"Experiment {printable(file.stem)}"  # a file name is text from outside too
        _finish(result, sys_, target, draws=n, seed=cfg.seed, title=title,
                quiet=quiet, as_json=as_json)  # fmt: skip


@app.command()
def report(
    result_dir: Annotated[Path, typer.Argument(help="A directory written by run/experiment.")],
    debug: Debug = False,
) -> None:
    """Re-render report.html and report.md from saved results (no simulation)."""
    from contagion.report import render_report

    with _guard(debug):
        _echo(str(render_report(result_dir)))


def _listing(rows: list[dict[str, Any]], as_json: bool) -> None:
    """Rows as a table, or as a JSON list with ``--json``."""
    if as_json:
        typer.echo(json.dumps(_clean(rows), indent=1))
        return
    t = Table(*rows[0]) if rows else Table()
    for row in rows:
        t.add_row(*(", ".join(v) if isinstance(v, list) else str(v) for v in row.values()))
    out_console.print(t)


@app.command()
def scenarios(as_json: AsJson = False) -> None:
    """List the bundled scenarios."""
    from contagion import scenarios as sc

    rows = []
    for name in sc.available():
        s = sc.load(name)
        rows.append({"scenario": name, "days": s.days, "description": _first(s.description)})
    _listing(rows, as_json)


def _first(text: str) -> str:
    """The first sentence of a description."""
    return text.split(". ")[0].strip()


@app.command()
def systems(as_json: AsJson = False) -> None:
    """List the bundled systems."""
    from contagion import examples

    rows = []
    for name in examples.BUNDLED:
        s = examples.load_bundled(name)
        rows.append({"system": name, "institutions": s.n_institutions,
                     "exposures": s.n_exposures, "description": _first(s.description)})  # fmt: skip
    _listing(rows, as_json)


@app.command()
def policies(as_json: AsJson = False) -> None:
    """List the policy types and their settings."""
    import contagion.policies as pol

    common = set(pol.PolicyConfig.model_fields) | {"type"}
    rows = []
    for kind in pol.registry.policy_types():
        cls = pol.registry.config_class(kind)
        fields = [f for f in cls.model_fields if f not in common]
        rows.append({"type": kind, "tool": pol.registry.describe(kind), "settings": fields})
    _listing(rows, as_json)


@system_app.command("summary")
def system_summary(
    system: Annotated[str, typer.Argument(help="System file/CSV folder or bundled name.")],
    as_json: AsJson = False,
    debug: Debug = False,
) -> None:
    """Headline figures of a system (sectors, repo, futures, leverage, concentration)."""
    from contagion import views

    with _guard(debug):
        s = views.summary(_system(system))
        if as_json:
            typer.echo(json.dumps(_clean(s), indent=1))
            return
        from rich.text import Text

        from contagion.errors import printable

        t = Table("figure", "value")
        for k, v in s.items():
            t.add_row(Text(k), Text(f"{v:,.3f}" if isinstance(v, float) else printable(str(v))))
        out_console.print(t)


@system_app.command("export")
def system_export(
    system: Annotated[str, typer.Argument(help="System file/CSV folder or bundled name.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="graphml, json, yaml or csv (a folder).")
    ] = "yaml",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output path; - writes to standard output."),
    ] = None,
    overwrite: Overwrite = False,
    debug: Debug = False,
) -> None:
    """Write a system as GraphML, JSON, YAML or a CSV folder."""
    from contagion.errors import InputError, Problem
    from contagion.io import save_system, to_csv

    with _guard(debug):
        if fmt not in ("graphml", "json", "yaml", "csv"):
            raise InputError(Problem("option", "--format", "use graphml, json, yaml or csv"))
        s = _system(system)
        if out is not None and str(out) == "-":
            if fmt == "csv":
                raise InputError(
                    Problem("option", "--out", "csv writes a folder of tables; give a folder")
                )
            sys.stdout.write(_system_text(s, fmt))
            return
        path = out or Path(f"{s.name}-csv" if fmt == "csv" else f"{s.name}.{fmt}")
        if path.exists() and not overwrite:
            raise InputError(Problem("output", "--out", "exists; pass --overwrite"), str(path))
        if fmt == "csv":
            to_csv(s, path)
        else:
            save_system(s, path if path.suffix == f".{fmt}" else path.with_suffix(f".{fmt}"))
        _echo(str(path))


def _system_text(system, fmt: str) -> str:
    """A system as GraphML, JSON or YAML text (what ``save_system`` writes)."""
    if fmt == "graphml":
        import networkx as nx

        from contagion.io import graphml_graph

        return "\n".join(nx.generate_graphml(graphml_graph(system))) + "\n"
    from contagion.io import to_dict

    doc = to_dict(system)
    if fmt == "json":
        return json.dumps(doc, indent=1) + "\n"
    import yaml

    return yaml.safe_dump(doc, sort_keys=False)


@system_app.command("validate")
def system_validate(
    system: Annotated[str, typer.Argument(help="System file/CSV folder or bundled name.")],
    debug: Debug = False,
) -> None:
    """Validate a system (schema, balance sheets, exposures); exit 2 listing every problem."""
    with _guard(debug):
        s = _system(system)
        s.compile()
        _echo(f"valid: {s.name} ({s.n_institutions} institutions, {s.n_exposures} exposures)")


@app.command()
def calibrate(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the fit report and parameter file (never the installed package).",
        ),
    ] = Path("calibration-fit"),
    episode: Annotated[
        str, typer.Option("--episode", help="Main fit episode (September 2019 is fitted with it).")
    ] = "march_2020",
    quick: Annotated[bool, typer.Option("--quick", help="A smoke run, few evaluations.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Fit the free parameters to March 2020 and September 2019 (calls calibration.fit.main).

    The full fit runs a few hundred simulations (tens of minutes on one core); progress
    shows the evaluations, the stage and the best objective so far.
    """
    from contagion.errors import InputError, Problem

    with _guard(debug, quiet):
        try:
            fit = importlib.import_module("calibration.fit")
        except ModuleNotFoundError as err:
            if err.name not in ("calibration", "calibration.fit"):
                raise
            fit = None
        if fit is None or not hasattr(fit, "main"):
            err_console.print("error: calibration fit not available in this version")
            raise typer.Exit(2)
        try:
            with _fit_progress(quiet) as progress:
                report = fit.main(out_dir=out, episode=episode, quick=quick, progress=progress)
        except ValueError as err:  # e.g. an episode that is not fitted
            raise InputError(Problem("option", "--episode", str(err))) from None
        _echo(str(report))


FIT_LINE_EVERY = 10  # evaluations between progress lines off a terminal


@contextmanager
def _fit_progress(quiet: bool) -> Iterator[Any]:
    """``progress(evaluations, stage, best)`` for the fit: a spinner on a terminal, a line
    per stage and every :data:`FIT_LINE_EVERY` evaluations elsewhere, nothing if quiet."""
    import time

    start = time.monotonic()

    def text(n: int, stage: str, best: float) -> str:
        return (
            f"Calibrating: {n} evaluations, {stage}, best objective {best:.4g}, "
            f"{time.monotonic() - start:.0f} s"
        )

    if quiet:
        yield None
    elif not err_console.is_terminal:
        last = [""]

        def lines(n: int, stage: str, best: float) -> None:
            if stage != last[0] or n % FIT_LINE_EVERY == 0:
                last[0] = stage
                err_console.print(text(n, stage, best), markup=False)

        yield lines
    else:
        with err_console.status("Calibrating: building the episode") as status:
            yield lambda n, stage, best: status.update(text(n, stage, best))


def main() -> None:  # pragma: no cover - console entry alias
    app()
