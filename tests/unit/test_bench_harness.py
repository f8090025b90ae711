"""How a benchmark records its figures (deploy/bench/harness.py): one JSON file per run,
read back here as a reader of the figures would."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deploy.bench import harness
from deploy.bench.harness import Figures, check_out_dir, recording
from deploy.cli import bench as bench_cli


def test_a_run_writes_its_figures_as_json_and_prints_the_path(tmp_path: Path) -> None:
    out = io.StringIO()
    with recording("journey", {"learners": 200}, tmp_path / "results", out) as figures:
        figures.record("PostgreSQL", learners_per_s=41.5, latency_ms_p95=850.0)
        printed = figures.rate("raw aiokafka", "produce", 100_000, 2.0)
    files = list((tmp_path / "results").glob("journey-*.json"))
    assert len(files) == 1
    assert f"figures written to {files[0]}" in out.getvalue()
    assert printed == "100,000 in 2.00 s = 50,000/s"  # the form the benches print

    document = json.loads(files[0].read_text(encoding="utf-8"))
    assert document["benchmark"] == "journey"
    assert document["parameters"] == {"learners": 200}
    assert document["passed"] is True and document["problems"] == []
    assert document["targets"] == {
        "PostgreSQL": {"learners_per_s": 41.5, "latency_ms_p95": 850.0},
        "raw aiokafka": {"produce_n": 100_000, "produce_s": 2.0, "produce_per_s": 50_000.0},
    }
    started = datetime.fromisoformat(document["started_at"])
    assert started.tzinfo is not None
    assert files[0].name == f"journey-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    assert datetime.fromisoformat(document["finished_at"]) >= started
    assert document["git_commit"] is None or len(document["git_commit"]) >= 40
    assert document["host"]["cpus"] >= 1


def test_failed_checks_are_recorded_with_the_figures(tmp_path: Path) -> None:
    with recording("funding", {"people": 50}, tmp_path, io.StringIO()) as figures:
        figures.record("SQLite", evaluations_per_s=1200.0)
        figures.problems.append("SQLite: 2 referrals differ from the expectation")
    (path,) = tmp_path.glob("funding-*.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["passed"] is False
    assert document["problems"] == ["SQLite: 2 referrals differ from the expectation"]
    assert document["targets"]["SQLite"]["evaluations_per_s"] == 1200.0


def test_a_run_that_raised_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), recording("verify", {}, tmp_path, io.StringIO()):
        raise RuntimeError("the service did not start")
    assert not list(tmp_path.iterdir())


def test_two_runs_in_the_same_second_keep_both_files(tmp_path: Path) -> None:
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = Figures("import", {"rows": 100}, started_at=at).write(tmp_path)
    second = Figures("import", {"rows": 100}, started_at=at).write(tmp_path)
    assert first.name == "import-20250102T030405Z.json"
    assert second.name == "import-20250102T030405Z-2.json"


def test_figures_may_not_go_where_each_run_empties(tmp_path: Path) -> None:
    check_out_dir(tmp_path / "bench", tmp_path / "bench-journey")
    for inside in (tmp_path / "data", tmp_path / "data" / "results"):
        with pytest.raises(ValueError, match="emptied by each run"):
            check_out_dir(inside, tmp_path / "data")


def test_the_cli_default_is_the_harness_default() -> None:
    assert bench_cli.RESULTS_DIR == harness.RESULTS_DIR
