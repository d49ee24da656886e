"""The command line as a whole: every command's help and examples, shared options that read the
same everywhere, defaults that are the library's, and bad values as one-line errors.

    pytest tests/test_cli.py -q
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import fields

import pytest
import typer
from typer.testing import CliRunner

from twinchat.cli import app, main
from twinchat.data.builder import BuildOptions
from twinchat.data.options import PrepareOptions
from twinchat.description import Sampling
from twinchat.evaluation.evaluate import EvalOptions
from twinchat.inference.export import export_run
from twinchat.inference.suggester import Suggester
from twinchat.training.train import TrainConfig

ROOT = typer.main.get_command(app)
COMMANDS = dict(ROOT.commands)
# The options declared once in `twinchat.cli.options`, by the name click gives them.
SHARED = ("run", "output", "force", "seed", "backend", "temperature", "top_p")
# Which dataclass (or function) gives each command's defaults.
SOURCES = {
    "prepare": (BuildOptions, PrepareOptions),
    "train": (TrainConfig,),
    "eval": (EvalOptions,),
    "suggest": (Suggester.suggest,),
    "bot": (Suggester.suggest,),
    "export": (export_run,),
}


def library_defaults(source: object) -> dict[str, object]:
    if isinstance(source, type):
        return {f.name: getattr(source, f.name) for f in fields(source) if hasattr(source, f.name)}
    import inspect

    parameters = inspect.signature(source).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not p.empty}


def help_of(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def example_lines(command: str) -> list[list[str]]:
    """Each example of `command` as the arguments that follow `twinchat`."""
    epilog = COMMANDS[command].epilog or ""
    lines = [line.strip()[2:] for line in epilog.splitlines() if line.strip().startswith("$ ")]
    arguments = []
    for line in lines:
        words = shlex.split(line)
        arguments.append(words[words.index("twinchat") + 1 :])
    return arguments


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["twinchat", *args])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    return exit_.value.code, captured.out, captured.err


def test_the_root_help_lists_every_stage():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in ("prepare", "train", "eval", "suggest", "export", "serve", "bot", "chat"):
        assert f" {command} " in result.output, command


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_shows_examples_that_parse(command):
    shown = help_of(command)
    examples = example_lines(command)
    assert len(examples) >= 2 or command == "demo"
    assert "Examples:" in shown
    assert shown.count("$ ") == len(examples)
    for arguments in examples:
        assert arguments[0] == command, arguments
        # Parsing checks every flag exists, takes its value's type, and nothing required lacks.
        COMMANDS[command].make_context(command, arguments[1:])


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_option_reads_the_same_on_every_command(name):
    found = {}
    for command, declared in COMMANDS.items():
        for param in declared.params:
            if param.name == name:
                found[command] = (tuple(param.opts), getattr(param, "help", None))
    assert len(found) >= 2, f"{name} is on {sorted(found)} only"
    assert len(set(found.values())) == 1, found


def test_the_run_argument_is_declared_once_for_six_commands():
    takes_run = [c for c, d in COMMANDS.items() if any(p.name == "run" for p in d.params)]
    assert sorted(takes_run) == ["bot", "chat", "eval", "export", "serve", "suggest"]


@pytest.mark.parametrize("command", sorted(SOURCES))
def test_defaults_are_the_librarys_and_help_shows_them(command):
    defaults = {}
    for source in SOURCES[command]:
        defaults |= library_defaults(source)
    shown = " ".join(help_of(command).split())
    compared = 0
    for param in COMMANDS[command].params:
        if param.name not in defaults or param.param_type_name == "argument":
            continue
        if param.multiple:  # None stands for the empty tuple, or for a default help names
            continue
        assert param.default == defaults[param.name], (command, param.name)
        compared += 1
        if param.default not in (None, "") and not isinstance(param.default, bool):
            assert f"[default: {param.default}]" in shown, (command, param.name)
    assert compared >= 2, command


def test_help_shows_the_comparisons_eval_makes_by_default():
    assert f"[default: ({' '.join(EvalOptions.compare)})]" in " ".join(help_of("eval").split())


def test_help_shows_the_sampling_defaults_a_run_is_trained_with():
    shown = " ".join(help_of("suggest").split())
    for name in ("temperature", "top_p", "max_new_tokens"):
        assert f"the run's, {getattr(Sampling, name)}" in shown, name


def test_help_shows_the_holdout_and_lossiness_defaults():
    assert all(f"{share:g} for {split}" in help_of("prepare") for split, share in (
        PrepareOptions.HOLDOUT.items()
    ))  # fmt: skip
    assert f"{TrainConfig.max_lost:.1%}" in help_of("train")


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["prepare", "{tmp}/x.json", "-o", "{out}", "--max-context", "0"], "--max-context"),
        (["prepare", "{tmp}/x.json", "-o", "{out}", "--min-context", "11"], "--min-context"),
        (["prepare", "{tmp}/x.json", "-o", "{out}", "--merge-within", "-1"], "--merge-within"),
        (["prepare", "{tmp}/x.json", "-o", "{out}", "--split", "odd"], "--split"),
        (["prepare", "{tmp}/x.json", "-o", "{out}", "--max-context", "ten"], "--max-context"),
        (["train", "{tmp}", "-o", "{out}", "--batch-size", "0"], "--batch-size"),
        (["train", "{tmp}", "-o", "{out}", "--merge"], "--merge"),
        (["eval", "{tmp}", "--data", "{tmp}", "-o", "{out}", "--samples", "0"], "--samples"),
        (["eval", "{tmp}", "--data", "{tmp}", "-o", "{out}", "--typeahead", "-1"], "--typeahead"),
        (["suggest", "{tmp}/run", "--temperature", "0", "--input", "{tmp}/none"], "--temperature"),
        (["suggest", "{tmp}/run", "--top-p", "2", "--input", "{tmp}/none"], "--top-p"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_flag(tmp_path, monkeypatch, capsys, args, flag):
    run = tmp_path / "run"
    run.mkdir()
    described = {"twinchat": 1, "family": "causal", "base_model": "m", "speakers": {"Ann": 1}}
    (run / "twinchat.json").write_text(json.dumps(described))
    out = tmp_path / "out"
    args = [a.replace("{tmp}", str(tmp_path)).replace("{out}", str(out)) for a in args]
    code, stdout, stderr = run_main(monkeypatch, capsys, *args)
    assert code == 1 and stdout == ""
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert flag in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_train_flags_override_the_config_file_only_when_given(tmp_path, monkeypatch):
    seen = {}

    def fake_train(data, run, config, resume, console):
        seen["config"] = config
        return {}

    monkeypatch.setattr("twinchat.training.train.train", fake_train)
    path = tmp_path / "c.yaml"
    path.write_text("batch_size: 2\nseed: 7\nepochs: 5\n")
    command = ["train", str(tmp_path), "-o", str(tmp_path / "r"), "--config", str(path)]
    result = CliRunner().invoke(app, [*command, "--epochs", "1", "--seed", "42"])
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert (config.batch_size, config.epochs, config.seed) == (2, 1.0, 42)
    assert config.eval_every == TrainConfig.eval_every
