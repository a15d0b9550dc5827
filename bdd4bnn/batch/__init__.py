"""Batch verification jobs: TOML job files, local or Dask execution, SQLite results, reports."""

from .jobfile import Job, JobError, Task, load_job
from .runner import run_job, run_task
from .store import ResultStore

__all__ = ["Job", "JobError", "Task", "load_job", "run_job", "run_task", "ResultStore"]
