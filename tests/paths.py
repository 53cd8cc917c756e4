"""Where tests find the project's files and the shared reference data."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHEET = ROOT / "criteria" / "default.yaml"
EXAMPLE_SHEETS = sorted((ROOT / "criteria" / "examples").glob("*.yaml"))
SAMPLES = ROOT / "intake" / "samples"
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"
