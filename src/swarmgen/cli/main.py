"""The ``swarmgen`` entry point."""

from __future__ import annotations

import typer

from swarmgen.cli.audit import audit_app
from swarmgen.cli.bench import bench_app
from swarmgen.cli.calibrate import calibrate
from swarmgen.cli.chain import chain_app, with_stake
from swarmgen.cli.credits import credits_app
from swarmgen.cli.demo import demo
from swarmgen.cli.keys import keys_app, users_app
from swarmgen.cli.ledger import ledger_app
from swarmgen.cli.serve import coordinator, worker
from swarmgen.cli.submit import submit

app = typer.Typer(
    help="swarmgen: an open network for generative-AI inference.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(coordinator)
app.add_typer(with_stake(worker), name="worker")
app.command()(submit)
app.command()(demo)
app.command()(calibrate)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
app.add_typer(chain_app, name="chain")
app.add_typer(bench_app, name="bench")

try:  # the models commands need the training code, which ships with the package
    from swarmgen.cli.models import models_app

    app.add_typer(models_app, name="models")
except ImportError:  # pragma: no cover
    pass

if __name__ == "__main__":
    app()
