"""The ``bdd4bnn`` command line: a thin click layer over :mod:`bdd4bnn.analyses`, one module
per command group (:mod:`.analyses`, :mod:`.models`, :mod:`.jobs`) and the shared helpers
(:mod:`.common`).

Exit codes: 0 done (``verify``: robust), 1 ``verify`` found an adversarial input
(``crosscheck``: inconsistent), 2 bad input (one line on stderr), 3 unknown (a time or node
limit was hit), 4 internal error (a bug: one line, BDD4BNN_DEBUG=1 for the traceback), 130
interrupted (Ctrl-C).
"""

from __future__ import annotations

import click

from .. import __version__
from . import analyses, faults, jobs, models
from .common import Cli


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bdd4bnn")
def main() -> None:
    """Exact verification and quantitative analysis of binarized neural networks."""


for _module in (analyses, models, jobs, faults):
    for _command in _module.COMMANDS:
        main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
