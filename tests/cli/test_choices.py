"""Every choice list the CLI offers is its owner's list, with the owner's default (issue 15).

The command tree is walked and every option or argument typed as a choice (an
``Enum`` or a ``Literal``) is compared with the list of the module that acts on
it, so a list restated in a command, or a new choice with no owner named here,
fails.  The owners themselves are checked too: the module that acts on a choice
reads the same light "names" list and rejects exactly what the CLI does not offer.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import typer.main
from kinhub.cli import kinship_cmd, schedule_cmd
from kinhub.cli.app import app
from kinhub.cli.common import OutputFormat
from kinhub.cli.lineage_cmd import Engine, LineageFormat
from kinhub.crawler import names as crawler_names
from kinhub.db.answers import names as answer_names
from kinhub.db.jobs import names as job_names
from kinhub.export.formats import ExportFormat
from kinhub.hub.ratelimit import Plan
from kinhub.kinship import metrics as metric_registry
from kinhub.kinship import names as kinship_names
from kinhub.pipeline import names as pipeline_names

Key = tuple[tuple[str, ...], str]  # (command path, parameter name)

OWNERS: dict[Key, tuple[str, ...]] = {
    (("parse",), "kind"): ("auto", *crawler_names.TEXT_KINDS),
    (("kinship",), "device"): kinship_names.DEVICES,
    (("crawl",), "scope"): crawler_names.SCOPE_KINDS,
    (("crawl",), "plan"): tuple(Plan),
    (("schedule",), "scope"): crawler_names.SCOPE_KINDS,
    (("schedule",), "plan"): tuple(Plan),
    (("export",), "fmt"): tuple(ExportFormat),
    (("worker",), "mode"): kinship_names.WORKER_MODES,
    (("worker",), "plan"): tuple(Plan),
    (("partners",), "metric"): kinship_names.PARTNER_METRICS,
    (("partners",), "strategy"): kinship_names.STRATEGIES,
    (("partners",), "compute"): kinship_names.COMPUTE_MODES,
    (("partners",), "emit_config"): kinship_names.EMIT_METHODS,
    (("plan",), "method"): kinship_names.EMIT_METHODS,
    (("plan",), "metric"): kinship_names.PARTNER_METRICS,
    (("plan",), "compute"): kinship_names.COMPUTE_MODES,
    (("jobs",), "status"): tuple(job_names.JobStatus),
    (("jobs",), "kind"): tuple(job_names.JobKind),
    (("analyze", "gain"), "metric"): (*answer_names.GAIN_METRICS, "all"),
}
"""Each CLI choice and the list of the module that owns it."""

CLI_OWNED: set[Any] = {OutputFormat, LineageFormat, Engine}
"""Choices the CLI owns: how it renders (`table|json`, `tree|json`) and which of two
lineage walks it calls."""


@dataclasses.dataclass(frozen=True)
class Choice:
    annotation: Any
    values: tuple[str, ...]
    default: Any


def _choice_type(hint: Any) -> Any | None:
    """The Enum or Literal inside ``Annotated[X | None, ...]``, else None."""
    if typing.get_origin(hint) is not Annotated:
        return None
    inner = typing.get_args(hint)[0]
    if typing.get_origin(inner) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(inner) if a is not type(None)]
        inner = rest[0] if len(rest) == 1 else None
    if isinstance(inner, type) and issubclass(inner, Enum):
        return inner
    return inner if typing.get_origin(inner) is Literal else None


def _values(choice: Any) -> tuple[str, ...]:
    if isinstance(choice, type):
        return tuple(member.value for member in choice)
    return typing.get_args(choice)


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(_commands(sub, (*path, name)))
    return found


def cli_choices() -> dict[Key, Choice]:
    """Every choice-typed parameter of every command, read from its function's hints."""
    choices: dict[Key, Choice] = {}
    for path, command in _commands(typer.main.get_command(app)):
        if command.callback is None:
            continue
        function = getattr(command.callback, "__wrapped__", command.callback)
        defaults = inspect.signature(function).parameters
        for name, hint in typing.get_type_hints(function, include_extras=True).items():
            choice = _choice_type(hint)
            if choice is not None:
                choices[path, name] = Choice(choice, _values(choice), defaults[name].default)
    return choices


def test_the_walk_sees_the_choices() -> None:
    found = cli_choices()
    assert found[("partners",), "strategy"].values == ("explore", "balanced")
    assert found[("jobs",), "status"].default is None  # an optional choice
    assert found[("lineage",), "fmt"].annotation is LineageFormat
    assert len(found) > len(OWNERS)


def test_every_choice_list_is_its_owners() -> None:
    found = cli_choices()
    for key, choice in found.items():
        if choice.annotation in CLI_OWNED:
            continue
        assert key in OWNERS, f"{key}: a choice list with no owner named in OWNERS: {choice}"
        assert choice.values == OWNERS[key], key
    missing = set(OWNERS) - set(found)
    assert not missing, f"no longer choices in the CLI: {missing}"


# ---------------------------------------------------------------- defaults


def _default(function: Any, name: str) -> Any:
    return inspect.signature(function).parameters[name].default


def _field_default(cls: Any, name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def test_defaults_are_the_owners() -> None:
    from kinhub.crawler.scope import Scope
    from kinhub.kinship.gain import analyze_gain
    from kinhub.kinship.partners import ComputeOptions, suggest_partners
    from kinhub.kinship.planner import plan_merges
    from kinhub.kinship.service import measure_kinship
    from kinhub.pipeline.crawl import CrawlSettings
    from kinhub.pipeline.tick import DEFAULT_CRON, TickSettings
    from kinhub.pipeline.worker import WorkerSettings

    found = {key: choice.default for key, choice in cli_choices().items()}
    assert found[("partners",), "metric"] == _default(suggest_partners, "metric")
    assert found[("partners",), "strategy"] == _default(suggest_partners, "strategy")
    assert found[("partners",), "compute"] == ComputeOptions().compute
    assert found[("plan",), "metric"] == _default(plan_merges, "metric")
    assert found[("plan",), "compute"] == ComputeOptions().compute
    assert found[("worker",), "mode"] == _field_default(WorkerSettings, "mode")
    assert found[("kinship",), "device"] == _default(measure_kinship, "device")
    assert found[("crawl",), "scope"] == Scope().kind == TickSettings().scope.kind
    assert found[("schedule",), "scope"] == TickSettings().scope.kind
    assert found[("crawl",), "plan"] == CrawlSettings().plan
    assert found[("schedule",), "plan"] == TickSettings().plan
    assert (found[("analyze", "gain"), "metric"],) == _default(analyze_gain, "metrics")
    metrics = _default(kinship_cmd.kinship, "metrics")
    assert metrics.split(",") == list(_default(measure_kinship, "metrics"))
    assert _default(schedule_cmd.schedule_command, "cron") == DEFAULT_CRON


# ---------------------------------------------------------------- the owners use the lists


def test_the_owners_read_the_light_lists() -> None:
    """The module that acts on a choice reads the light list the CLI offers."""
    from kinhub.crawler import result, scope
    from kinhub.db.answers import gain as gain_query
    from kinhub.db.jobs import keys
    from kinhub.kinship import emit, engine, job, partners, service
    from kinhub.pipeline import tick, worker

    assert partners.METRICS is kinship_names.PARTNER_METRICS
    assert job.MODES is kinship_names.WORKER_MODES
    assert emit.EMIT_METHODS is kinship_names.EMIT_METHODS
    assert gain_query.GAIN_METRICS is answer_names.GAIN_METRICS
    assert keys.JobKind is job_names.JobKind and keys.JobStatus is job_names.JobStatus
    assert tick.DEFAULT_CRON is pipeline_names.DEFAULT_CRON
    assert result.Kind is crawler_names.TextKind
    assert scope.ScopeKind is crawler_names.ScopeKind
    default_metrics = metric_registry.DEFAULT_METRICS
    assert service.DEFAULT_METRICS is engine.DEFAULT_METRICS is default_metrics
    assert worker.WorkerSettings().metrics == default_metrics
    assert set(default_metrics) <= set(metric_registry.known())


def test_the_owners_reject_what_the_cli_does_not_offer(tmp_path: Path) -> None:
    """Each owner accepts every name the CLI offers and, for any other, names exactly
    the CLI's list."""
    from kinhub.crawler.parse import parse_file
    from kinhub.crawler.scope import Scope, ScopeError
    from kinhub.kinship.emit import EmitError, EmitModel, emit_yaml
    from kinhub.kinship.errors import DeviceUnavailableError
    from kinhub.kinship.execute import resolve_device
    from kinhub.kinship.gain import UnknownGainMetricError, resolve_metrics
    from kinhub.kinship.partners import ComputeOptions, UnknownChoiceError, suggest_partners
    from kinhub.kinship.planner import plan_merges
    from kinhub.pipeline.worker import WorkerSettings

    no_db: Any = None  # the choices are checked before the database is opened

    def known(exc: pytest.ExceptionInfo[Exception]) -> str:
        return str(exc.value).rsplit("known: ", 1)[1]

    with pytest.raises(UnknownChoiceError) as exc:
        suggest_partners(no_db, model="org/m", metric="nope")
    assert known(exc) == ", ".join(kinship_names.PARTNER_METRICS)
    with pytest.raises(UnknownChoiceError) as exc:
        plan_merges(no_db, pool=["org/a", "org/b"], metric="nope")
    assert known(exc) == ", ".join(kinship_names.PARTNER_METRICS)
    with pytest.raises(UnknownChoiceError) as exc:
        suggest_partners(no_db, model="org/m", strategy="nope")
    assert known(exc) == ", ".join(kinship_names.STRATEGIES)
    bad_compute = ComputeOptions(compute="nope")  # type: ignore[arg-type]
    with pytest.raises(UnknownChoiceError) as exc:
        suggest_partners(no_db, model="org/m", options=bad_compute)
    assert known(exc) == ", ".join(kinship_names.COMPUTE_MODES)

    for mode in kinship_names.WORKER_MODES:
        assert WorkerSettings(mode=mode).mode == mode
    with pytest.raises(ValueError, match=", ".join(kinship_names.WORKER_MODES)):
        WorkerSettings(mode="nope")

    assert resolve_device("cpu") == "cpu" and resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(DeviceUnavailableError, match=f"\\({', '.join(kinship_names.DEVICES)}\\)"):
        resolve_device("nope")

    models = [EmitModel("org/a"), EmitModel("org/b")]
    for method in kinship_names.EMIT_METHODS:
        assert f"merge_method: {method}" in emit_yaml(
            method=method, models=models, base=EmitModel("org/base")
        )
    with pytest.raises(EmitError, match=", ".join(kinship_names.EMIT_METHODS)):
        emit_yaml(method="nope", models=models)

    assert resolve_metrics(["all"]) == answer_names.GAIN_METRICS
    for metric in answer_names.GAIN_METRICS:
        assert resolve_metrics([metric]) == (metric,)
    with pytest.raises(UnknownGainMetricError) as gain_exc:
        resolve_metrics(["nope"])
    assert known(gain_exc) == ", ".join(answer_names.GAIN_METRICS)

    for kind in crawler_names.SCOPE_KINDS:
        assert Scope.parse(kind, "org/m" if kind == "children-of" else None).kind == kind
    with pytest.raises(ScopeError):
        Scope.parse("nope")

    card = tmp_path / "README.md"
    card.write_text("---\nbase_model: org/base\n---\n# m\n")
    for text_kind in crawler_names.TEXT_KINDS:
        assert parse_file(card, kind=text_kind).kind == text_kind
