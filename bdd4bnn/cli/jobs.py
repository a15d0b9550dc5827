"""Batch jobs: batch, results, report."""

from __future__ import annotations

import json
import signal
import sys

import click

from ..errors import one_line
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
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Also rerun tasks stored as error or unknown (crashed ones are always rerun).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@friendly_errors
def batch(job, db, workers, scheduler, retry_failed, quiet) -> None:
    """Run a batch job (TOML) and store one row per task; re-running skips finished tasks.

    SIGTERM, SIGHUP and Ctrl-C stop the run: workers are killed, finished rows stay, and a
    re-run resumes. Runs sharing one --db share the work (tasks are claimed in it)."""
    from tqdm import tqdm

    from ..batch import ResultStore, load_job, run_job
    from ..batch.runner import Stopped

    check_output(db, "--db")
    spec = load_job(job)
    with ResultStore(db) as store:
        done = store.done_keys(retry_failed)
        todo = len(spec.tasks) - len(done & {t.key for t in spec.tasks})
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
            summary = run_job(
                spec,
                store,
                workers=workers,
                scheduler=scheduler,
                on_row=on_row,
                retry_failed=retry_failed,
            )
        except Stopped as exc:
            bar.close()
            click.echo(
                f"bdd4bnn: stopped by {exc}: finished tasks are stored in {one_line(db)}; "
                "run the job again to resume",
                err=True,
            )
            sys.exit(128 + int(getattr(signal, str(exc))))
        finally:
            bar.close()
    extra = "".join(
        f", {summary[k]} {label}"
        for k, label in (("crashed", "crashed (retried next run)"), ("elsewhere", "run elsewhere"))
        if summary[k]
    )
    click.echo(
        f"{one_line(spec.name)}: {summary['total']} tasks: {summary['done']} done, "
        f"{summary['unknown']} unknown, {summary['failed']} failed{extra}, "
        f"{summary['skipped']} already in {one_line(db)}"
    )


def _open_store(db: str):
    from ..batch import ResultStore

    return ResultStore(db, readonly=True)


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
    for a in res["expected_accuracy"]:
        click.echo(
            f"expected accuracy at BER {a['ber']:g}: [{a['lo']:.6f}, {a['hi']:.6f}] "
            f"over {a['inputs']} inputs"
        )


COMMANDS = [batch, results, report]
