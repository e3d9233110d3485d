"""`brainobs analyze` checks the store and --out before computing; a failed command
changes nothing; --store-dir keeps the store elsewhere."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pandas as pd
import pytest

from brainobs.catalog import Observatory
from brainobs.cli import main


class Squeezed(str):
    """stderr with all whitespace removed (rich wraps long lines, even inside a path):
    ``text in err`` compares without whitespace too."""

    def __contains__(self, text: object) -> bool:
        return "".join(str(text).split()) in str(self)


def run(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, Squeezed("".join(err.split()))


@pytest.fixture
def obs_dir(tiny_observatory, tmp_path) -> Path:
    d = tmp_path / "obs"
    shutil.copytree(tiny_observatory, d)
    return d


@pytest.fixture
def no_compute(monkeypatch):
    """Any computation fails the test: the checks must come first."""
    import brainobs.metrics

    def boom(*args, **kwargs):
        raise AssertionError("computed before checking")

    monkeypatch.setattr(brainobs.metrics, "analyze_catalog_container", boom)
    monkeypatch.setattr(brainobs.metrics, "analyze", boom)


def _parts(store_root: Path) -> list[Path]:
    return sorted((store_root / "catalog" / "computed").glob("part-*"))


def _cid(obs_dir: Path) -> int:
    return int(Observatory(obs_dir).containers()["id"].iloc[0])


def test_unwritable_store_fails_before_computing(capsys, obs_dir, no_compute):
    cid = _cid(obs_dir)
    shutil.rmtree(obs_dir / ".brainobs", ignore_errors=True)
    (obs_dir / ".brainobs").write_text("in the way")
    for args in (["--container", cid], ["--missing"]):
        code, _, err = run(capsys, "analyze", *args, "-d", obs_dir)
        assert code == 2
        assert f"Cannot store computed metrics in {obs_dir / '.brainobs'}" in err
        assert "--store-dir DIR" in err and "--no-store" in err and "Traceback" not in err
    assert (obs_dir / ".brainobs").read_text() == "in the way"


@pytest.mark.parametrize("case", ["missing_folder", "is_folder", "parent_is_file"])
def test_bad_out_path_fails_before_computing(capsys, obs_dir, tmp_path, no_compute, case):
    cid = _cid(obs_dir)
    if case == "missing_folder":
        out, msg = tmp_path / "nowhere" / "cells.csv", "does not exist"
    elif case == "is_folder":
        out = tmp_path / "res.parquet"
        out.mkdir()
        msg = "is a folder"
    else:
        (tmp_path / "file").write_text("x")
        out, msg = tmp_path / "file" / "cells.csv", "is not a folder"
    code, _, err = run(capsys, "analyze", "--container", cid, "-d", obs_dir, "--out", out)
    assert code == 2 and f"--out {out}" in err and msg in err and ".tmp" not in err
    assert not _parts(obs_dir / ".brainobs")


def test_failed_out_write_stores_nothing(capsys, obs_dir, tmp_path, monkeypatch):
    cid = _cid(obs_dir)
    out = tmp_path / "res" / "cells.parquet"
    out.parent.mkdir()

    def full_disk(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    code, _, err = run(capsys, "analyze", "--container", cid, "-d", obs_dir, "--family", "natural_movies",
                       "--out", out)
    assert code == 2
    assert f"cannot write --out {out}: No space left on device" in err and ".tmp" not in err
    assert not out.exists() and list(out.parent.iterdir()) == []  # no temporary file either
    assert not _parts(obs_dir / ".brainobs")  # the catalog is unchanged
    monkeypatch.undo()
    code, _, err = run(capsys, "analyze", "--container", cid, "-d", obs_dir, "--family", "natural_movies",
                       "--out", out)
    assert code == 0 and len(pd.read_parquet(out)) == 8 and len(_parts(obs_dir / ".brainobs")) == 1


def test_store_dir_elsewhere(capsys, obs_dir, tmp_path, monkeypatch):
    cid = _cid(obs_dir)
    elsewhere = tmp_path / "store"
    code, _, err = run(capsys, "analyze", "--container", cid, "-d", obs_dir, "--family", "natural_movies",
                       "--store-dir", elsewhere)
    assert code == 0 and f"(store {elsewhere})" in err
    assert len(_parts(elsewhere)) == 1 and not _parts(obs_dir / ".brainobs")
    monkeypatch.setenv("BRAINOBS_STORE", str(elsewhere))
    code, out, _ = run(capsys, "cells", "-d", obs_dir, "--container-id", cid, "--format", "csv",
                       "--columns", "cell_specimen_id,reliability_nm1_a")
    table = pd.read_csv(__import__("io").StringIO(out))
    assert code == 0 and len(table) == 8 and table["reliability_nm1_a"].notna().all()


@pytest.mark.filterwarnings("default::brainobs.errors.StoreCorruptionWarning")
def test_corrupt_part_is_one_warning_line(capsys, obs_dir):
    folder = obs_dir / ".brainobs" / "catalog" / "computed"
    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / "part-00000000000000000005-x-1-aa.parquet"
    bad.write_bytes(b"garbage")
    code, out, err = run(capsys, "cells", "-d", obs_dir, "--format", "csv")
    assert code == 0 and len(out.splitlines()) > 1
    assert f"warning: corrupt catalog store file {bad}" in err and "unreadable Parquet" in err
    assert "moved to" in err and "Traceback" not in err and "store.py" not in err
    assert not bad.exists()
