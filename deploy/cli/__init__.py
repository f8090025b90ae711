"""`skillbridge`: the operator's command line (typer), one module per command group."""

from __future__ import annotations

import typer

from deploy.cli import (
    acls,
    bench,
    compose,
    dashboard,
    dlq,
    kcat,
    keys,
    migrate,
    outbox,
    people,
    schemas,
    stack,
    status,
    subject_access,
    topics,
)

app = typer.Typer(help="Run and inspect SkillBridge.", no_args_is_help=True)

# Registration order is the order `skillbridge --help` lists them in.
app.command()(stack.up)
app.command()(stack.demo)
app.command()(stack.smoke)
app.command()(schemas.schemas)
app.command()(bench.bench)
app.command("import-people")(people.import_people)
app.command("bench-import")(bench.bench_import)
app.command("bench-training")(bench.bench_training)
app.command("bench-funding")(bench.bench_funding)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(kcat.kcat)
app.add_typer(dlq.dlq, name="dlq")
app.add_typer(acls.acls, name="acls")
app.add_typer(dashboard.dashboard, name="dashboard")
app.command("bench-verify")(bench.bench_verify)
app.command("bench-envelope")(bench.bench_envelope)
app.command("bench-drain")(bench.bench_drain)
app.add_typer(compose.compose, name="compose")
# Operators (issue 16): status, replay, topics, keys, migrations.
app.command()(status.status)
app.add_typer(outbox.outbox, name="outbox")
app.add_typer(topics.topics, name="topics")
app.add_typer(keys.keys, name="keys")
app.add_typer(keys.partners, name="partners")
app.command()(migrate.migrate)
# PDPA subject access (issue 17).
app.add_typer(subject_access.people, name="people")
