"""Files with personal data are the owner's only (DESIGN §8), and CSV files we write are inert."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT


def test_the_database_and_the_data_folder_are_created_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "MEDLEADS_DATA_DIR": str(data)}
    env.pop("MEDLEADS_DATABASE_URL", None)
    medleads = Path(sys.executable).parent / "medleads"
    result = subprocess.run(
        [str(medleads), "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "medleads.db").stat().st_mode) == 0o600


def test_a_rejection_report_shows_a_formula_as_text(settings_env: Path, tmp_path: Path) -> None:
    from tasks.outcomes import import_outcomes

    path = tmp_path / "crm.csv"
    path.write_text('lead_id,=Stage\nabc,"=HYPERLINK(""http://evil.example"",""won"")"\n')
    report = import_outcomes(path)
    assert report.rejection_report is not None
    with open(report.rejection_report, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), cells
    assert "'=Stage" in cells
