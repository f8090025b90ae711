"""`kcat`: Debian's kcat with a librdkafka that reads the embedded broker."""

from __future__ import annotations

import typer


def kcat(ctx: typer.Context) -> None:
    """kcat with a librdkafka that reads the embedded broker: `skillbridge kcat -C -b
    127.0.0.1:9092 -t skillbridge.partner.gsb.v1 -J -e` (Debian's own fails against Tansu)."""
    from deploy.stack.kcat import KcatUnavailable, run

    try:
        raise typer.Exit(run(ctx.args))
    except KcatUnavailable as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
