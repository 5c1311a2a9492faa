"""Options for the claim checks: which executed notebooks, and which run."""

from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--executed", type=Path, default=None, help="folder of executed notebooks")
    parser.addoption("--mode", choices=("quick", "full"), default=None, help="which run they are")


@pytest.fixture(scope="session")
def run(request):
    executed, mode = request.config.getoption("--executed"), request.config.getoption("--mode")
    if executed is None or mode is None:
        raise pytest.UsageError("claim checks need --executed DIR and --mode quick|full")
    if not executed.is_dir():
        raise pytest.UsageError(f"--executed {executed}: no such folder (run tools/execute.py first)")
    return executed, mode
