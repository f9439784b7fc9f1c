"""Paths named in configs cannot escape the config's directory unless absolute.

Layout of every test (``tmp``: pytest's temporary directory)::

    tmp/secret.yaml             a valid scenario outside the config directory
    tmp/configs/calm.yaml       a valid scenario inside it
    tmp/configs/sub/            an (empty) sub-directory
    tmp/configs/link.yaml   ->  ../secret.yaml      (a symlink pointing outside)
    tmp/configs/inlink.yaml ->  calm.yaml           (a symlink staying inside)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import contagion as c
from contagion.cli import app
from contagion.experiment import ExperimentConfig, load_experiment, run_experiment
from contagion.paths import config_path

SCENARIO = "name: calm\ndays: 2\nvolatility_multiplier: [1.5]\n"
# paths, not figures, are under test: figures built but not drawn (tests/undrawn.py)
pytestmark = pytest.mark.undrawn_figures


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The layout of the module docstring; returns ``tmp/configs``."""
    (tmp_path / "secret.yaml").write_text(SCENARIO, encoding="utf-8")
    configs = tmp_path / "configs"
    (configs / "sub").mkdir(parents=True)
    (configs / "calm.yaml").write_text(SCENARIO, encoding="utf-8")
    (configs / "link.yaml").symlink_to(Path("..") / "secret.yaml")
    (configs / "inlink.yaml").symlink_to("calm.yaml")
    return configs


def experiment_file(configs: Path, scenario: str, system: str = "toy_basis_trade") -> Path:
    path = configs / "exp.yaml"
    path.write_text(
        f"system: {system}\nscenario: {scenario}\narms:\n  no_action: []\n", encoding="utf-8"
    )
    return path


ESCAPING = ["../secret.yaml", "sub/../../secret.yaml", "link.yaml", "sub/../../configs/../x.yaml"]


@pytest.mark.parametrize("name", ESCAPING)
def test_relative_paths_leaving_the_directory_are_rejected(tree, name):
    with pytest.raises(c.InputError) as info:
        config_path(tree, name, field="scenario", source="exp.yaml")
    err = info.value
    assert err.field == "scenario" and err.source == "exp.yaml"
    msg = str(err)
    assert name in msg and "outside the config's directory" in msg and "absolute" in msg


@pytest.mark.parametrize("name", ["calm.yaml", "./calm.yaml", "sub/../calm.yaml", "inlink.yaml"])
def test_relative_paths_inside_the_directory_are_kept(tree, name):
    assert config_path(tree, name, field="scenario") == tree / name


def test_absolute_paths_are_the_users_choice(tree):
    outside = tree.parent / "secret.yaml"
    assert config_path(tree, str(outside), field="scenario") == outside
    assert config_path(tree, str(tree / ".." / "secret.yaml"), field="system").is_absolute()


def test_load_experiment_names_the_file_and_field(tree):
    exp = experiment_file(tree, "../secret.yaml")
    with pytest.raises(c.InputError) as info:
        load_experiment(exp)
    assert info.value.field == "scenario"
    assert info.value.source == str(exp)
    assert "outside the config's directory" in str(info.value)
    exp = experiment_file(tree, "calm.yaml", system="../toy.yaml")
    with pytest.raises(c.InputError) as info:
        load_experiment(exp)
    assert info.value.field == "system"


def test_load_experiment_accepts_inside_absolute_and_bundled_names(tree):
    for scenario in ("calm.yaml", "inlink.yaml", str(tree.parent / "secret.yaml"), "basis_unwind"):
        assert load_experiment(experiment_file(tree, scenario)).scenario == scenario


def test_run_experiment_checks_configs_built_in_python(tree):
    config = ExperimentConfig(system="toy_basis_trade", scenario="link.yaml", arms={"x": []})
    with pytest.raises(c.InputError) as info:
        run_experiment(config, base_dir=tree)
    assert info.value.field == "scenario"


def test_cli_rejects_an_escaping_path_with_exit_2_and_writes_nothing(tree):
    exp = experiment_file(tree, "sub/../../secret.yaml")
    out = tree / "out"
    r = CliRunner().invoke(app, ["experiment", str(exp), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    for needle in (str(exp), "scenario", "outside the config's directory"):
        assert needle in r.output.replace("\n", ""), r.output
    assert not out.exists()


def test_cli_runs_an_experiment_naming_an_absolute_path_outside(tree):
    exp = experiment_file(tree, str(tree.parent / "secret.yaml"))
    r = CliRunner().invoke(app, ["experiment", str(exp), "--out", str(tree / "out"), "--json"])
    assert r.exit_code == 0, r.output
    assert (tree / "out" / "report.html").exists()
