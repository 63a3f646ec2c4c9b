"""Merge gain against kinship: which merges count, gain over shared benchmarks, Pearson r."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kinhub.db.answers.gain import merge_gains
from kinhub.db.engine import Database
from kinhub.kinship.gain import (
    NoGainDataError,
    UnknownGainMetricError,
    analyze_gain,
    pearson,
    plot_gain,
    resolve_metrics,
)

from tests.kinship.gain_data import (
    add_kinship,
    add_merge_edges,
    add_model,
    add_scores,
    build_planted,
    expected_gain,
)


def test_planted_relation_gives_numpys_r(database: Database) -> None:
    planted = build_planted(database, n=40)
    with database.session() as session:
        report = analyze_gain(session, metrics=("all",))
    assert report.metrics == ("cs", "pcc", "ed")
    assert len(report.merges) == 40
    by_child = {m.child: m for m in report.merges}
    gains = np.array([expected_gain(p) for p in planted])
    for p, g in zip(planted, gains, strict=True):
        found = by_child[p.child]
        assert found.gain == pytest.approx(g, abs=1e-9)
        assert found.benchmarks == tuple(
            f"text-generation/{d}/acc" for d in ("arc_challenge", "hellaswag", "mmlu")
        )
        assert found.kinship["pcc"] == pytest.approx(p.pcc)  # the pair job's row, not the newer one
        assert found.base == p.base and found.ingredients == p.ingredients
    for metric in ("cs", "pcc", "ed"):
        xs = np.array([getattr(p, metric) for p in planted])
        want = np.corrcoef(xs, gains)[0, 1]
        want_abs = np.corrcoef(xs, np.abs(gains))[0, 1]
        assert report.correlations[metric]["gain"].r == pytest.approx(want, abs=1e-9)
        assert report.correlations[metric]["abs_gain"].r == pytest.approx(want_abs, abs=1e-9)
        assert report.correlations[metric]["gain"].n == 40
    # The planted slope is negative and strong: pcc predicts a lower gain.
    pcc = report.correlations["pcc"]["gain"]
    assert pcc.r is not None and pcc.r < -0.8
    assert pcc.p_value is not None and pcc.p_value < 1e-6


def test_metric_choice(database: Database) -> None:
    build_planted(database, n=6)
    with database.session() as session:
        report = analyze_gain(session, metrics=("pcc",))
    assert report.metrics == ("pcc",) and set(report.correlations) == {"pcc"}
    assert resolve_metrics(["ed", "cs"]) == ("cs", "ed")
    with pytest.raises(UnknownGainMetricError, match=r"'kl'.*cs, pcc, ed"):
        resolve_metrics(["kl"])


def test_which_merges_count(database: Database) -> None:
    """Shared benchmarks only; three ingredients average their three pairs; a merge
    without evaluations, without a shared benchmark or without pair kinship is left out."""
    with database.session() as session:
        names = "z/base x/a x/b x/c m/three m/noevals m/disjoint m/nokin y/d y/e"
        ids = {name: add_model(session, name) for name in names.split()}
        a, b, c = ids["x/a"], ids["x/b"], ids["x/c"]
        add_scores(session, a, {"arc": 50.0, "mmlu": 60.0, "gsm8k": 1.0})
        add_scores(session, b, {"arc": 40.0, "mmlu": 70.0})
        add_scores(session, c, {"arc": 45.0, "mmlu": 65.0, "hellaswag": 3.0})
        add_scores(session, ids["m/three"], {"arc": 52.0, "mmlu": 68.0, "hellaswag": 99.0})
        add_merge_edges(session, ids["m/three"], [a, b, c], ids["z/base"])
        for n, (x, y, pcc) in enumerate(
            [("x/a", "x/b", 0.2), ("x/a", "x/c", 0.4), ("x/b", "x/c", 0.9)]
        ):
            add_kinship(session, ids, x, y, "z/base", cs=pcc, pcc=pcc, ed=None, key=f"k{n}")
        # measured against one of the pair itself: ignored
        add_kinship(session, ids, "x/a", "x/b", "x/a", cs=0.0, pcc=-1.0, ed=1.0, key="self")
        add_merge_edges(session, ids["m/noevals"], [a, b], None)
        add_scores(session, ids["y/d"], {"piqa": 10.0})
        add_scores(session, ids["y/e"], {"piqa": 20.0})
        add_scores(session, ids["m/disjoint"], {"arc": 30.0})
        add_merge_edges(session, ids["m/disjoint"], [ids["y/d"], ids["y/e"]], None)
        add_scores(session, ids["m/nokin"], {"piqa": 30.0})  # shares piqa, but no pair kinship
        add_merge_edges(session, ids["m/nokin"], [ids["y/d"], ids["y/e"]], None)
    with database.session() as session:
        merges, census = merge_gains(session)
    assert [m.child for m in merges] == ["m/three"]
    three = merges[0]
    assert three.ingredients == ("x/a", "x/b", "x/c") and three.pairs == 3
    assert three.gain == pytest.approx(60.0 - (55.0 + 55.0 + 55.0) / 3)
    assert three.kinship["pcc"] == pytest.approx(0.5) and three.kinship["ed"] is None
    assert census.merges == 4 and census.merges_with_evaluations == 3
    assert census.merges_with_shared_benchmarks == 2  # m/three, m/nokin


def test_no_data_says_what_is_missing(database: Database) -> None:
    with database.session() as session, pytest.raises(NoGainDataError, match="found 0 merges"):
        analyze_gain(session)


def test_pearson_undefined_cases() -> None:
    assert pearson([1.0, 2.0], [3.0, 4.0]).r is None
    assert pearson([1.0, 1.0, 1.0], [3.0, 4.0, 5.0]).r is None
    found = pearson([1.0, 2.0, 3.0, 4.0], [2.0, 4.1, 5.9, 8.2])
    assert found.r == pytest.approx(np.corrcoef([1, 2, 3, 4], [2.0, 4.1, 5.9, 8.2])[0, 1])


def test_plot_writes_png(database: Database, tmp_path: Path) -> None:
    build_planted(database, n=30)
    with database.session() as session:
        report = analyze_gain(session)
    path = plot_gain(report, path=tmp_path / "sub" / "gain.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1260, 400)  # three 4.2-inch panels at 100 dpi
    assert len(data) > 20_000  # points, lines and text, not a blank canvas


def test_kinship_row_choice_per_merge(database: Database) -> None:
    """Per merge: a finished pair job's row, then one against the merge's anchor, then
    the newest; the same pair under two anchors gives each merge its own row."""
    with database.session() as session:
        names = "z/one z/two x/a x/b m/one m/two"
        ids = {name: add_model(session, name) for name in names.split()}
        for name in ("x/a", "x/b"):
            add_scores(session, ids[name], {"arc": 50.0})
        for merge, anchor in (("m/one", "z/one"), ("m/two", "z/two")):
            add_scores(session, ids[merge], {"arc": 55.0})
            add_merge_edges(session, ids[merge], [ids["x/a"], ids["x/b"]], ids[anchor])
        # The row against z/two is the newer one; m/one still takes its anchor's row.
        add_kinship(session, ids, "x/a", "x/b", "z/one", cs=0.1, pcc=0.1, ed=1.0, key="one")
        add_kinship(session, ids, "x/a", "x/b", "z/two", cs=0.2, pcc=0.2, ed=1.0, key="two")
    with database.session() as session:
        merges, _ = merge_gains(session)
    assert {m.child: m.kinship["pcc"] for m in merges} == {"m/one": 0.1, "m/two": 0.2}
    with database.session() as session:
        add_kinship(
            session, ids, "x/b", "x/a", "z/two", cs=0.3, pcc=0.3, ed=1.0, key="job", pair_job=True
        )
    with database.session() as session:
        merges, _ = merge_gains(session)
    assert {m.child: m.kinship["pcc"] for m in merges} == {"m/one": 0.3, "m/two": 0.3}
