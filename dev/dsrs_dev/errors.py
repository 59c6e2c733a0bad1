"""The development commands' expected failures, reported in one line like DSRS's own."""

from __future__ import annotations

from dsrs.cli.errors import one_line_errors_for
from dsrs_dev.stack.component import StackError
from dsrs_dev.worker_process import WorkerFailed

one_line_errors = one_line_errors_for(StackError, WorkerFailed)
