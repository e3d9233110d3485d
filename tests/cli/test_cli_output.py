"""Terminal tables never mislead: numbers whole at any width, identity columns kept, hidden
columns named, ids as integers in every format."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.cells import cell_len
from rich.console import Console

import brainobs.cli
from brainobs.catalog import open_observatory
from brainobs.cli import Fmt, emit, main

METRICS = ["p_dg", "dsi_dg", "p_ns", "pref_image_ns", "g_osi_dg", "peak_dff_dg", "run_mod_dg"]
IDENTITY = ["cell_specimen_id", "experiment_container_id", "area", "tld1_name"]


@pytest.fixture(scope="module")
def planted(tiny_observatory: Path, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A copy of the tiny observatory with metric values of every magnitude stored."""
    d = tmp_path_factory.mktemp("out") / "obs"
    shutil.copytree(tiny_observatory, d)
    obs = open_observatory(d)
    ids = obs.cells(include_failed=True, warn=False)["cell_specimen_id"].to_numpy()
    k = np.arange(len(ids), dtype=float)
    values = pd.DataFrame({
        "cell_specimen_id": ids,
        "p_dg": 1.234567891 * 10.0 ** -(3 * k),          # 1.23457, 0.00123457, 1.23457e-06 ...
        "dsi_dg": 0.987654321 + k / 7,
        "p_ns": 1.5312345e-56 * (k + 1),               # the example: the exponent must show
        "pref_image_ns": (k * 5) % 118,
        "g_osi_dg": -0.000123456789 * (k + 1),
        "peak_dff_dg": 123456789.123 * (k + 1),
        "run_mod_dg": -9.87654321e-300 * (k + 1),
    })
    obs.save_cells(values)
    return d, values.set_index("cell_specimen_id")


def _terminal(monkeypatch, width: int, terminal: bool = True) -> io.StringIO:
    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=terminal, color_system=None)
    monkeypatch.setattr(brainobs.cli, "console", con)
    return buf


def _parse(text: str) -> tuple[list[list[str]], list[str], str]:
    """Rows (whitespace-split), hidden columns and the text after the table."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.strip() and set(line.strip()) == {"─"})
    rows, i = [], rule + 1
    while i < len(lines) and lines[i].strip() and "hidden to fit" not in lines[i]:
        rows.append(lines[i].split())
        i += 1
    after = " ".join(line.strip() for line in lines[i:])
    m = re.search(r"(\d+) columns? hidden to fit (\d+) columns: (.*?)\. See them with", after)
    hidden = m.group(3).split(", ") if m else []
    if m:
        assert int(m.group(1)) == len(hidden)
    return rows, hidden, after


def _check_rows(rows, shown, values, cells):
    assert rows and len(rows) == len(cells)
    for row in rows:
        assert len(row) == len(shown), row
        cid = int(row[0])
        for name, text in zip(shown, row, strict=True):
            if name in values.columns:
                want = float(values.loc[cid, name])
                # every printed number parses back to the value at 6 significant digits
                assert abs(float(text) - want) <= 5e-6 * abs(want), (name, text, want)
            elif name in ("area", "tld1_name"):
                assert text == cells.loc[cid, name]
            elif name != "cell_specimen_id":
                assert int(text) == int(cells.loc[cid, name])


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("extra", [[], METRICS])
def test_cells_table_fits_without_cutting_a_number(capsys, monkeypatch, planted, width, extra):
    d, values = planted
    columns = IDENTITY + ["imaging_depth"] + (extra or ["p_dg", "dsi_dg", "p_ns", "pref_image_ns"])
    buf = _terminal(monkeypatch, width)
    args = ["cells", "-d", str(d)] + (["--columns", ",".join(columns)] if extra else [])
    assert main(args) == 0
    text = buf.getvalue()
    assert "Traceback" not in text + capsys.readouterr().err
    rows, hidden, after = _parse(text)
    table = [line for line in text.splitlines() if "hidden to fit" not in line]  # that line is soft-wrapped
    assert max(cell_len(line) for line in table) <= width  # the table fits the terminal
    shown = [c for c in columns if c not in hidden]
    assert all(c in shown for c in IDENTITY)  # identity columns never hidden
    cells = open_observatory(d).cells(warn=False).set_index("cell_specimen_id")
    _check_rows(rows, shown, values, cells)
    if hidden:  # hidden from the right, and the line says how to see them
        assert hidden == [c for c in columns if c in hidden] and columns[-1] in hidden
        assert f"--columns {','.join(IDENTITY + hidden)}" in after
        assert "--format csv" in after and "wider terminal" in after
        # ... and only when needed: the first hidden column would not fit beside the shown ones
        # even at their narrowest (longest value, or longest part of the header split after "_")
        def narrowest(name: str, texts: list[str]) -> int:
            return max(max(map(len, texts)), max(map(len, re.findall(r"[^_]*_|[^_]+$", name))))

        shown_min = [narrowest(c, [r[i] for r in rows]) for i, c in enumerate(shown)]
        first = hidden[0]
        texts = [f"{v:.6g}" for v in values[first]] if first in values.columns else [first]
        assert sum(shown_min) + 2 * len(shown) + narrowest(first, texts) > width
    assert hidden or width == 120  # at 80 columns something must give


def test_table_at_80_columns_keeps_the_exponent(monkeypatch, planted):
    d, values = planted
    buf = _terminal(monkeypatch, 80)
    assert main(["cells", "-d", str(d), "--columns", "cell_specimen_id,area,tld1_name,p_ns"]) == 0
    rows, hidden, _ = _parse(buf.getvalue())
    assert not hidden
    first = values["p_ns"].iloc[0]
    assert rows[0][-1] == f"{first:.6g}" and "e-56" in rows[0][-1]


def test_piped_table_keeps_its_natural_width(monkeypatch, planted):
    d, values = planted
    columns = IDENTITY + METRICS
    buf = _terminal(monkeypatch, 80, terminal=False)
    assert main(["cells", "-d", str(d), "--columns", ",".join(columns)]) == 0
    text = buf.getvalue()
    rows, hidden, after = _parse(text)
    assert not hidden and "hidden" not in after
    assert max(cell_len(line) for line in text.splitlines()) > 80
    cells = open_observatory(d).cells(warn=False).set_index("cell_specimen_id")
    _check_rows(rows, columns, values, cells)


def test_identity_columns_alone_wider_than_the_terminal_are_printed_whole(monkeypatch):
    df = pd.DataFrame({"cell_specimen_id": [600000000123], "experiment_container_id": [500000000],
                       "tld1_name": ["Slc17a7-IRES2-Cre"], "p_ns": [1.53e-56]})
    buf = _terminal(monkeypatch, 30)
    brainobs.cli.show(brainobs.cli._rich_table(df, "t"))
    rows, hidden, _ = _parse(buf.getvalue())
    assert hidden == ["p_ns"]
    assert rows == [["600000000123", "500000000", "Slc17a7-IRES2-Cre"]]


def test_long_text_folds_before_any_column_is_hidden(monkeypatch):
    long = "Cux2-CreERT2/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt"
    df = pd.DataFrame({"id": [1, 2], "donor_full_genotype": [long, long], "p_dg": [1.25e-10, 0.5]})
    buf = _terminal(monkeypatch, 40)
    brainobs.cli.show(brainobs.cli._rich_table(df))
    text = buf.getvalue()
    assert "hidden" not in text and max(cell_len(line) for line in text.splitlines()) <= 40
    assert "1.25e-10" in text and re.search(r"\b0\.5\b", text)
    assert long not in text and "".join(re.findall(r"[A-Za-z0-9();/_-]+", text)).count("Camk2a") == 2


def test_ids_are_integers_in_every_format(capsys, tmp_path):
    df = pd.DataFrame({"cell_specimen_id": [600000001.0, 600000002.0], "experiment_container_id": [500000000.0, np.nan],
                       "ophys_experiment_id_a": [np.nan, 500000001.0], "p_ns": [1.53e-56, 0.25],
                       "pref_dir_dg": [45.0, 90.5]})
    emit(df, Fmt.csv, None)
    csv = capsys.readouterr().out
    assert csv.splitlines()[1:] == ["600000001,500000000,,1.53e-56,45.0", "600000002,,500000001,0.25,90.5"]
    emit(df, Fmt.json, None)
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["cell_specimen_id"] == 600000001 and isinstance(rows[0]["cell_specimen_id"], int)
    assert rows[0]["experiment_container_id"] == 500000000 and rows[1]["experiment_container_id"] is None
    assert rows[1]["ophys_experiment_id_a"] == 500000001 and rows[0]["p_ns"] == 1.53e-56
    out = tmp_path / "t.parquet"
    emit(df, Fmt.parquet, out)
    back = pd.read_parquet(out)
    assert str(back["experiment_container_id"].dtype) == "Int64"
    assert back["experiment_container_id"].tolist()[0] == 500000000 and back["p_ns"].tolist() == [1.53e-56, 0.25]
    assert df["experiment_container_id"].dtype == float  # the caller's frame is not changed


def test_cli_ids_are_integers_in_csv_and_json(capsys, planted):
    d, _ = planted
    cols = "cell_specimen_id,experiment_container_id,tld1_id,tlr1_id"
    raw = {c["cell_specimen_id"]: c for c in json.loads((d / "cell_specimens.json").read_text())}
    assert main(["cells", "-d", str(d), "--columns", cols, "-f", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == cols and len(lines) > 1
    for line in lines[1:]:
        fields = line.split(",")
        assert all(re.fullmatch(r"\d*", f) for f in fields), line
        rec = raw[int(fields[0])]
        assert int(fields[2]) == rec["tld1_id"] and int(fields[1]) == rec["experiment_container_id"]
    assert main(["cells", "-d", str(d), "--columns", cols, "-f", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(isinstance(v, int) for r in rows for v in r.values() if v is not None)
