"""`python -m hall_server` runs the command line."""

from hall_server.cli import app

app()
