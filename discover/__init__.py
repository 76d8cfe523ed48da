"""discover: agentic scaling-law discovery.

Data flow, one module per step:
task (tasks.py, data.py, holdout.py) -> proposal (search/) -> candidate (expr.py)
-> fit (fit.py) -> score (score.py) -> archive (archive.py, runstore.py) -> report.
"""

__version__ = "0.1.0"
