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
