"""Batch jobs: batch, results, report."""

from __future__ import annotations

import json
import sys

import click

from ..errors import InputError
from .common import check_output, friendly_errors


@click.command()
@click.argument("job", type=click.Path())
@click.option("--db", required=True, type=click.Path(), help="SQLite results file.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local worker processes.",
)
@click.option("--scheduler", help="Dask scheduler address (tcp://host:8786): run there.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@friendly_errors
def batch(job, db, workers, scheduler, quiet) -> None:
    """Run a batch job (TOML) and store one row per task; re-running skips finished tasks."""
    from tqdm import tqdm

    from ..batch import ResultStore, load_job, run_job

    check_output(db, "--db")
    spec = load_job(job)
    with ResultStore(db) as store:
        todo = len(spec.tasks) - len(store.done_keys() & {t.key for t in spec.tasks})
        bar = tqdm(
            total=todo,
            desc=spec.name,
            unit="task",
            file=sys.stderr,
            disable=True if quiet else None,
        )

        def on_row(row, summary):
            bar.update(1)
            bar.set_postfix(
                done=summary["done"], unknown=summary["unknown"], failed=summary["failed"]
            )

        try:
            summary = run_job(spec, store, workers=workers, scheduler=scheduler, on_row=on_row)
        finally:
            bar.close()
    click.echo(
        f"{spec.name}: {summary['total']} tasks: {summary['done']} done, "
        f"{summary['unknown']} unknown, {summary['failed']} failed, "
        f"{summary['skipped']} already in {db}"
    )


def _open_store(db: str):
    from pathlib import Path

    from ..batch import ResultStore

    if not Path(db).is_file():
        raise InputError(f"{db}: no such results database")
    return ResultStore(db)


@click.command()
@click.option("--db", required=True, type=click.Path(), help="SQLite results file.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of rows.")
@friendly_errors
def results(db, as_json) -> None:
    """List the results of a batch job."""
    with _open_store(db) as store:
        rows = store.rows()
    if as_json:
        click.echo(json.dumps(rows))
        return
    from ..batch.store import ROW_HEADER, row_line

    click.echo(ROW_HEADER)
    for r in rows:
        click.echo(row_line(r))


@click.command()
@click.option("--db", required=True, type=click.Path(), help="SQLite results file.")
@click.option("--out", required=True, type=click.Path(), help="Folder for the report.")
@friendly_errors
def report(db, out) -> None:
    """Write a report: summary CSV/JSON, PNG plots and index.html."""
    from pathlib import Path

    from ..batch.report import write_report

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise click.BadParameter(f"{out} is not a folder", param_hint="--out")
    check_output(str(folder / "index.html") if folder.is_dir() else out, "--out")

    with _open_store(db) as store:
        rows = store.rows()
    res = write_report(rows, out)
    click.echo(f"wrote {folder / 'index.html'} ({res['tasks']} tasks)")


COMMANDS = [batch, results, report]
