"""Benchmark commands: `bench` (the journey), `bench-import`, `-training`, `-funding`, `-verify`,
`-envelope`, `-drain`.

Each prints its figures and writes them as JSON to `--out` (var/bench by default), as
`<name>-<UTC timestamp>.json` (deploy/bench/harness.py, `recording`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SOAK_LEARNERS = 100_000
REVOKED_IN_BENCH = 100  # deploy.bench.verify.REVOKED (not imported: keeps --help fast)

Out = Annotated[
    Path,
    typer.Option(
        envvar="SKILLBRIDGE_BENCH_OUT",
        help="directory the run's figures are written to, as <name>-<UTC timestamp>.json",
    ),
]
RESULTS_DIR = Path("var/bench")  # deploy.bench.harness.RESULTS_DIR (not imported: --help)


def _checked(out: Path, data_dir: Path) -> Path:
    """`out`, unless it is inside the data directory the run empties first."""
    from deploy.bench.harness import check_out_dir

    try:
        check_out_dir(out, data_dir)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--out") from None
    return out


def bench(
    learners: Annotated[
        int | None,
        typer.Option(
            min=1, help="(a) learners through the journey [default: 10,000; soak 100,000]"
        ),
    ] = None,
    latency_seconds: Annotated[
        float,
        typer.Option(min=0, help="(b) seconds offered at each rate (20, 100, 200/s); 0 skips"),
    ] = 10.0,
    drain_events: Annotated[
        int | None,
        typer.Option(min=0, help="(c) people/completions per drained service (default: learners)"),
    ] = None,
    profile: Annotated[
        bool, typer.Option(help="a py-spy flame graph per service, beside the JSON")
    ] = False,
    soak: Annotated[
        bool,
        typer.Option(
            help="instead: a soak of --learners (default 100,000) with SIGKILLs of every "
            "service and a broker loss; prints lost, doubled, time to settle (soak-*.json)"
        ),
    ] = False,
    kills: Annotated[int, typer.Option(min=0, help="--soak: SIGKILLs per service")] = 3,
    data_dir: Path | None = None,
    out: Out = RESULTS_DIR,
) -> None:
    """One run, four parts: (a) throughput, (b) latency at fixed offered rates, (c) each
    consumer's drain rate alone, (d) raw aiokafka on the same broker; printed and written to
    <out>/journey-<UTC timestamp>.json. With --soak: the soak instead (deploy/bench/soak.py)."""
    if soak:
        from deploy.bench.soak import run as run_soak

        data_dir = data_dir or Path("var/bench-soak")
        size = SOAK_LEARNERS if learners is None else learners
        out_dir = _checked(out, data_dir)
        raise typer.Exit(run_soak(learners=size, kills=kills, data_dir=data_dir, out_dir=out_dir))
    from deploy.bench.journey import Options, run

    data_dir = data_dir or Path("var/bench-journey")
    learners = 10_000 if learners is None else learners
    out_dir = _checked(out, data_dir)
    drained = learners if drain_events is None else drain_events
    options = Options(learners, latency_seconds, drained, profile)
    raise typer.Exit(run(options=options, data_dir=data_dir, out_dir=out_dir))


def bench_import(
    rows: Annotated[int, typer.Option(min=100)] = 100_000,
    data_dir: Path = Path("var/bench-import"),
    out: Out = RESULTS_DIR,
) -> None:
    """Import a generated CSV twice on SQLite and PostgreSQL; print rows/s and check counts."""
    from deploy.bench.imports import run

    raise typer.Exit(run(rows=rows, data_dir=data_dir, out_dir=_checked(out, data_dir)))


def bench_training(
    applicants: Annotated[int, typer.Option(min=1, help="people applying to one cohort")] = 10_000,
    villages: Annotated[int, typer.Option(min=1, help="their villages, 20 seats each")] = 300,
    data_dir: Path = Path("var/bench-training"),
    out: Out = RESULTS_DIR,
) -> None:
    """Training at district scale: replica, applications, selection, attendance, closure."""
    from deploy.bench.training import run

    out_dir = _checked(out, data_dir)
    raise typer.Exit(
        run(applicants=applicants, villages=villages, data_dir=data_dir, out_dir=out_dir)
    )


def bench_funding(
    people: Annotated[int, typer.Option(min=1, help="pilot people sent through funding")] = 5_000,
    data_dir: Path = Path("var/bench-funding"),
    out: Out = RESULTS_DIR,
) -> None:
    """Funding alone: referral evaluations/s, dry run, partner API writes/s; checked."""
    from deploy.bench.funding import run

    raise typer.Exit(run(people=people, data_dir=data_dir, out_dir=_checked(out, data_dir)))


def bench_verify(
    people: Annotated[
        int, typer.Option(min=REVOKED_IN_BENCH, help="certificates to issue")
    ] = 2_000,
    data_dir: Path = Path("var/bench-verify"),
    out: Out = RESULTS_DIR,
) -> None:
    """Certification: certificates issued, credentials signed and verifications per second."""
    from deploy.bench.verify import run

    raise typer.Exit(run(people=people, data_dir=data_dir, out_dir=_checked(out, data_dir)))


def bench_envelope(
    events: Annotated[int, typer.Option(min=1, help="events per round")] = 2_000,
    rounds: Annotated[int, typer.Option(min=1, help="the best round counts")] = 7,
    data_dir: Path = Path("var/bench"),
) -> None:
    """µs per event to encode and decode a record: the cloudevents SDK's way and the fast path."""
    from deploy.bench.envelope import run

    raise typer.Exit(run(events=events, rounds=rounds, data_dir=data_dir))


def bench_drain(
    people: Annotated[int, typer.Option(min=1, help="people (funding) and completions")] = 20_000,
    service: Annotated[
        list[str] | None, typer.Option(help="funding and/or certification (default both)")
    ] = None,
    data_dir: Path = Path("var/bench-drain"),
    out: Out = RESULTS_DIR,
) -> None:
    """Drain rate of funding and certification, each alone, from a pre-filled topic."""
    from deploy.bench.drain import run

    services = service or ["funding", "certification"]
    unknown = set(services) - {"funding", "certification"}
    if unknown:
        raise typer.BadParameter(f"unknown service {sorted(unknown)}", param_hint="--service")
    out_dir = _checked(out, data_dir)
    raise typer.Exit(run(people=people, services=services, data_dir=data_dir, out_dir=out_dir))
