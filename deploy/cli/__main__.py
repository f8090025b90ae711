"""`python -m deploy.cli`: the same app as the `skillbridge` script."""

from deploy.cli import app

app()
