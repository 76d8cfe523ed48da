"""The ``discover`` command line, one module per kind of command:

- ``app``: the command group, the consoles, options several commands share, ``main``;
- ``search``: ``run`` (search a task or your table for a law) and ``fit`` (score your own law);
- ``use``: ``predict``, ``optimum`` and ``export`` (put a finished run's law to use);
- ``results``: ``show`` and ``report``;
- ``bench``: ``bench``, ``baseline`` and ``tasks``.

Every error a user can cause ends in one line on stderr and exit code 2, never a traceback.
"""

from discover.cli import bench, results, search, use  # noqa: F401  (importing a module registers its commands)
from discover.cli.app import cli, main

__all__ = ["cli", "main"]
