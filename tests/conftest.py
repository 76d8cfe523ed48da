"""Shared fixtures: the SLDBench data and the raw StepLaw table in ``shared/`` beside the repo."""

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def sldbench_dir() -> Path:
    """``<repo>/../shared/data/sldbench``: one folder per SLDBench task."""
    path = SHARED / "sldbench"
    if not (path / "vocab_scaling_law" / "train.parquet").is_file():
        pytest.fail(f"SLDBench data not found at {path}: the tests expect the shared/ folder beside the repo")
    return path


@pytest.fixture(scope="session")
def raw_csv() -> Path:
    """The StepLaw MoE table as a user would bring it (708 runs, a column with a space in its name)."""
    path = SHARED / "raw" / "steplaw_moe_lr_bs_loss" / "all.csv"
    if not path.is_file():
        pytest.fail(f"raw StepLaw table not found at {path}: the tests expect the shared/ folder beside the repo")
    return path


class BusyClock:
    """A clock on which every reading finds ``step`` seconds gone, as on a machine shared with much else."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def busy_clock(monkeypatch):
    """``busy_clock(module, ..., step=2.0)``: those modules' ``time`` becomes one BusyClock."""

    def install(*modules, step: float = 2.0) -> BusyClock:
        clock = BusyClock(step)
        for module in modules:
            monkeypatch.setattr(module, "time", clock)
        return clock

    return install
