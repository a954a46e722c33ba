"""The console scripts' ``main(argv)`` functions, one module per command (``equidiff-train``, ``-eval``,
``-generate``, ``-expert-report``, ``-convert``, ``-export``, ``-describe``, ``-synthetic``, ``-sweep``).

Every ``main`` takes the argument list (None: ``sys.argv[1:]``) and returns an exit status, so tests and scripts can
call it in-process; :func:`equidiff_relaxed.errors.run_cli` turns user errors into one ``error:`` line. Options come
from typed dataclasses (:mod:`equidiff_relaxed.cli.options`); heavy imports happen inside ``main``, so ``--help``
is fast.
"""
