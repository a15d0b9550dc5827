"""Running a job's tasks: locally in worker processes (default) or on a Dask cluster.

Every task rebuilds its BDDs and solvers where it runs (BDD managers never cross processes);
tasks carry the model document itself, so workers need no shared files. Only the calling
process writes the results store, one committed row per finished task, so a job killed at any
moment loses at most the tasks in flight and a re-run skips every finished task.

Time limits: each analysis honours its limit cooperatively and answers ``unknown``; locally a
task still running at twice its limit plus 5 s is killed and recorded ``unknown`` (reason:
timeout), so no task can stall a job. On Dask the cooperative limit applies.

Workers die with their parent, whatever kills it: each asks the kernel for SIGKILL when its
parent dies (Linux ``PR_SET_PDEATHSIG``) and, everywhere, a watchdog thread exits it once it
has been re-parented. SIGTERM (and SIGHUP) stop a local run like Ctrl-C: the workers are
killed, finished rows stay, claims are dropped, and a re-run resumes. A worker that dies is
stored ``crashed`` and retried by the next run. Tasks are claimed in the store before they
start (:class:`~.store.ResultStore`), so runs sharing a database share the work.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from multiprocessing.connection import wait
from typing import Any

import numpy as np

from .. import __version__
from ..errors import LimitReached
from ..limits import die_with_parent
from .jobfile import Job, Task
from .store import ResultStore

__all__ = ["run_task", "run_job", "JobSummary"]


def _answer(task: Task) -> tuple[str, dict[str, Any], int, str]:
    from .. import analyses
    from ..formats import model_from_dict
    from ..region import Region

    model = model_from_dict(task.model_doc)
    center = np.array(task.center, dtype=np.int8)
    if task.region is not None and task.region["kind"] == "faults":
        return _faults_answer(model, center, task)
    if task.region is not None and task.region["kind"] == "linf":
        from ..linf import linf_ball

        whole = task.analysis in ("count", "verify")  # these take split balls too
        ball = linf_ball(model, task.region["raw"], task.region["epsilon"], split=whole)
        kw = dict(engine=task.engine, timeout=task.time_limit, max_nodes=task.node_limit)
        if whole:
            run = analyses.count_linf if task.analysis == "count" else analyses.verify_linf
            res = run(model, ball, **kw)
        else:  # a multi-level network: its thermometer form
            net = model if ball.model is None else ball.model
            res = getattr(analyses, task.analysis)(net, ball.region, **kw)
        doc = res.to_json() | {"linf": ball.describe()}
        return doc["status"], doc, int(doc.get("peak_nodes") or 0), str(doc.get("engine"))
    if task.region is not None:
        region = Region.from_dict(center, task.region)
    elif task.analysis == "radius" and task.radius_max is not None:
        region = Region.hamming(center, task.radius_max)
    else:
        region = Region.everything(center)
    run = getattr(analyses, task.analysis)
    res = run(model, region, engine=task.engine, timeout=task.time_limit, max_nodes=task.node_limit)
    doc = res.to_json()
    return doc["status"], doc, int(doc.get("peak_nodes") or 0), str(doc.get("engine"))


def _faults_answer(model, center, task: Task) -> tuple[str, dict[str, Any], int, str]:
    """P(decision changes) at the task's BER (a rigorous interval), the fewest flips up to
    ``flips`` when asked, and, for test images, whether the fault-free decision is right and
    P(the faulted decision is the true class) as an interval (``p_correct``). The time limit
    is shared: each step gets an equal part of what the steps before it left."""
    from ..analyses.faults import fault_rate, min_flips
    from ..semantics import classify

    spec = task.region
    t0 = time.perf_counter()
    width = spec.get("width", 1e-6)
    true = spec.get("true")
    label = int(classify(model, center))
    misread = true is not None and true != label and 0 <= true < model.num_classes
    steps = 1 + bool(spec.get("flips")) + misread

    def share() -> float | None:
        nonlocal steps
        steps -= 1
        if task.time_limit is None:
            return None
        return max(1e-3, (task.time_limit - (time.perf_counter() - t0)) / (steps + 1))

    doc = fault_rate(model, center, spec["ber"], width=width, timeout=share())
    if spec.get("flips"):
        try:
            m = min_flips(model, center, spec["flips"], timeout=share())
            doc |= {"min_flips": m["min_flips"], "flips": m["flips"]}
        except LimitReached:
            doc["status"] = "unknown"
    if true is not None:
        doc["correct"] = label == true
        if misread:  # P(decision ≠ the true class), computed for itself
            right = fault_rate(model, center, spec["ber"], keep=true, width=width, timeout=share())
            if right["status"] != "ok":
                doc["status"] = "unknown"
        elif label == true:
            right = doc
        else:  # a class the model cannot give: never correct
            right = {"lo": 1.0, "hi": 1.0}
        doc["p_correct"] = [1 - right["hi"], 1 - right["lo"]]
    doc["seconds"] = time.perf_counter() - t0
    return doc["status"], doc, 0, "faults"


def run_task(task: Task) -> dict[str, Any]:
    """Run one task; return its results row (status "ok", "unknown", "error" or, out of
    memory, "crashed")."""
    t0 = time.perf_counter()
    try:
        status, answer, peak, engine = _answer(task)
    except MemoryError:
        status, peak, engine = "crashed", 0, task.engine
        answer = {"error": "out of memory"}
    except Exception as exc:  # recorded, the job goes on
        status, peak, engine = "error", 0, task.engine
        answer = {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=5),
        }
    return _row(task, status, answer, time.perf_counter() - t0, peak, engine)


def _row(task: Task, status: str, answer: Any, seconds: float, peak: int, engine: str):
    return {
        "key": task.key,
        "model": task.model_name,
        "input": task.input_name,
        "region": task.describe_region(),
        "analysis": task.analysis,
        "engine": engine,
        "status": status,
        "answer": answer,
        "seconds": seconds,
        "peak_nodes": peak,
        "tool_version": __version__,
    }


def _child(task: Task, conn, parent: int) -> None:  # pragma: no cover - a forked process
    die_with_parent(parent)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    # A forked child must not use a thread pool its parent started (torch's intra-op pool
    # deadlocks after fork): enumeration stays off the int8 kernel here.
    from ..engines.enum import stream

    stream.TORCH_FROM = 1 << 62
    conn.send(run_task(task))
    conn.close()


def _lease(task: Task) -> float:
    """Return the seconds a claim on ``task`` lasts: past its hard kill, or a day."""
    return 86400.0 if task.time_limit is None else 2 * task.time_limit + 60


def _run_local(
    tasks: list[Task], workers: int, claim: Callable[[Task], bool]
) -> Iterable[dict[str, Any]]:
    ctx = mp.get_context("fork")
    pending = list(reversed(tasks))
    running: dict[Any, tuple[Any, Task, float]] = {}
    try:
        while pending or running:
            while pending and len(running) < workers:
                task = pending.pop()
                if not claim(task):  # finished or held by another run
                    continue
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(task, send, os.getpid()), daemon=True)
                proc.start()
                send.close()
                running[recv] = (proc, task, time.monotonic())
            for conn in wait(list(running), timeout=0.2):
                proc, task, started = running.pop(conn)
                try:
                    row = conn.recv()
                except EOFError:
                    proc.join()
                    code = proc.exitcode
                    why = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                    row = _row(
                        task,
                        "crashed",
                        {"error": f"worker died ({why}); the next run retries it"},
                        time.monotonic() - started,
                        0,
                        task.engine,
                    )
                conn.close()
                proc.join()
                yield row
            now = time.monotonic()
            for conn, (proc, task, started) in list(running.items()):
                if task.time_limit is not None and now - started > 2 * task.time_limit + 5:
                    proc.kill()
                    proc.join()
                    running.pop(conn)
                    conn.close()
                    yield _row(
                        task,
                        "unknown",
                        {
                            "status": "unknown",
                            "reason": f"timeout: killed after {now - started:.0f} s",
                        },
                        now - started,
                        0,
                        task.engine,
                    )
    finally:
        for proc, _, _ in running.values():
            proc.kill()
        for proc, _, _ in running.values():
            proc.join()


def _run_dask(
    tasks: list[Task], address: str, claim: Callable[[Task], bool]
) -> Iterable[dict[str, Any]]:
    from distributed import as_completed

    from ..analyses.distributed import connect

    client = connect(address)
    mine = [t for t in tasks if claim(t)]
    with client:
        futures = [client.submit(run_task, t, key=f"bdd4bnn-{t.key}", pure=False) for t in mine]
        for fut in as_completed(futures):
            yield fut.result()


class Stopped(Exception):
    """SIGTERM or SIGHUP reached a running job (handled like Ctrl-C)."""


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(signal.Signals(signum).name)


class JobSummary(dict):
    """Counts of the job's tasks by outcome: done, unknown, failed (error), crashed (retried
    by the next run), skipped (already stored), elsewhere (claimed by another run)."""


def run_job(
    job: Job,
    store: ResultStore,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    on_row: Callable[[dict[str, Any], JobSummary], None] | None = None,
    retry_failed: bool = False,
) -> JobSummary:
    """Run the job's unfinished tasks (with ``retry_failed``, its error and unknown ones too),
    storing each row as it finishes. SIGTERM / SIGHUP in the main thread raise
    :class:`Stopped` after the workers are killed (finished rows stay)."""
    done = store.done_keys(retry_failed)
    todo = [t for t in job.tasks if t.key not in done]
    summary = JobSummary(
        total=len(job.tasks),
        skipped=len(job.tasks) - len(todo),
        done=0,
        unknown=0,
        failed=0,
        crashed=0,
        elsewhere=0,
    )

    def claim(task: Task) -> bool:
        ok = store.claim(task.key, _lease(task), retry_failed)
        summary["elsewhere"] += not ok
        return ok

    main = threading.current_thread() is threading.main_thread()
    old = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGHUP)} if main else {}
    rows = (
        _run_dask(todo, scheduler, claim) if scheduler else _run_local(todo, max(1, workers), claim)
    )
    try:
        for row in rows:
            row["job"] = job.name
            store.add(row)
            key = {"ok": "done", "unknown": "unknown", "crashed": "crashed"}.get(
                row["status"], "failed"
            )
            summary[key] += 1
            if on_row:
                on_row(row, summary)
    finally:
        rows.close()  # kills the workers still running (a signal may land outside the loop)
        for s, handler in old.items():
            signal.signal(s, handler)
    return summary
