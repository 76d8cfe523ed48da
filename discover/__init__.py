"""discover: agentic scaling-law discovery.

Data flow, one module per step:
task (tasks.py, data.py, holdout.py) -> proposal (search/) -> candidate (expr.py)
-> fit (fit.py) -> score (score.py) -> archive (archive.py, runstore.py) -> report.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``discover.find_law`` and ``discover.open_run`` (the Python interface, discover.api), imported on first use."""
    if name in ("find_law", "open_run", "Run"):
        from discover import api

        return getattr(api, name)
    raise AttributeError(f"module 'discover' has no attribute {name!r}")
