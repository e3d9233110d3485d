"""`brainobs download` in process against the local fault-injecting server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brainobs.catalog import open_observatory
from brainobs.cli import _size_text, main
from brainobs.fetch import METADATA_FILES, PART_SUFFIX, nwb_key


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    from rich.console import Console

    import brainobs.cli

    monkeypatch.setattr(brainobs.cli, "console", Console(width=300))
    monkeypatch.setattr(brainobs.cli, "err_console", Console(stderr=True, width=300))
    monkeypatch.delenv("BRAINOBS_SOURCE", raising=False)


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


FAST = ("--timeout", "0.5", "--retries", "2")


def visp_ids(root: Path) -> list[int]:
    """VISp sessions of passed containers, straight from the JSON (independent of the catalog)."""
    containers = json.loads((root / "experiment_containers.json").read_text())
    ok = {c["id"] for c in containers if c["targeted_structure"]["acronym"] == "VISp" and not c.get("failed")}
    exps = json.loads((root / "ophys_experiments.json").read_text())
    return sorted(e["id"] for e in exps if e["experiment_container_id"] in ok)


def test_download_an_area(capsys, bucket, tiny_observatory, tmp_path):
    dest = tmp_path / "data"
    ids = visp_ids(tiny_observatory)
    assert ids
    code, _, err = run(capsys, "download", "-d", dest, "--area", "VISp", "--source", bucket.url, "-j", 3, *FAST)
    assert code == 0, err
    keys = [*METADATA_FILES, *(nwb_key(i) for i in ids)]
    for key in keys:
        assert (dest / key).read_bytes() == (tiny_observatory / key).read_bytes(), key
    assert sorted(p.name for p in (dest / "ophys_experiment_data").iterdir()) == sorted(f"{i}.nwb" for i in ids)
    assert f"{len(ids)} downloaded" in err
    obs = open_observatory(dest)
    for i in ids:
        assert obs.session_path(i) == (dest / nwb_key(i)).resolve()
    # rerun: nothing fetched again (no GET at all)
    gets = sum(m == "GET" for m, _, _ in bucket.log)
    code, _, err = run(capsys, "download", "-d", dest, "--area", "VISp", "--source", bucket.url, *FAST)
    assert code == 0 and f"{len(ids)} already present and verified" in err
    assert sum(m == "GET" for m, _, _ in bucket.log) == gets


def test_dry_run_lists_files_and_total_and_writes_nothing(capsys, bucket, tiny_observatory, tmp_path):
    dest = tmp_path / "data"
    ids = visp_ids(tiny_observatory)
    code, out, err = run(capsys, "download", "-d", dest, "--area", "VISp", "--what", "nwb", "--dry-run",
                         "--source", bucket.url, *FAST)
    assert code == 0, err
    total = sum((tiny_observatory / nwb_key(i)).stat().st_size for i in ids)
    assert f"{len(ids)} session files, {_size_text(total)} in total" in out
    for i in ids:
        assert nwb_key(i) in out
    assert not dest.exists()
    got = [k for m, k, _ in bucket.log if m == "GET"]
    assert not any(k.endswith(".nwb") for k in got)  # only the catalog files, fetched aside


def test_failed_files_exit_1_and_a_rerun_completes(capsys, bucket, tiny_observatory, tmp_path, monkeypatch):
    dest = tmp_path / "data"
    ids = visp_ids(tiny_observatory)
    bad = nwb_key(ids[0])
    bucket.inject(bad, *["500"] * 3)
    monkeypatch.setenv("BRAINOBS_SOURCE", bucket.url)  # the source from the environment
    code, _, err = run(capsys, "download", "-d", dest, "--area", "VISp", "--retries", "2", "--timeout", "0.5")
    assert code == 1
    assert f"failed: {bad}: {bucket.url}{bad}: failed after 3 attempts; last error: HTTP 500" in err
    assert "1 file(s) failed; rerun the same command to resume them" in err
    assert not (dest / bad).exists()
    code, _, err = run(capsys, "download", "-d", dest, "--area", "VISp", *FAST)
    assert code == 0, err
    assert (dest / bad).read_bytes() == (tiny_observatory / bad).read_bytes()
    assert not list(dest.rglob(f"*{PART_SUFFIX}"))


def test_no_selection_fetches_the_catalog_only(capsys, bucket, tmp_path):
    dest = tmp_path / "data"
    code, _, err = run(capsys, "download", "-d", dest, "--source", bucket.url, *FAST)
    assert code == 0, err
    assert "no selection given" in err
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == sorted(METADATA_FILES)
    assert not (dest / "ophys_experiment_data").exists()


def test_unreachable_source_lists_each_file_once_and_exits_1(capsys, tmp_path):
    dest = tmp_path / "data"
    code, _, err = run(capsys, "download", "-d", dest, "--area", "VISp", "--source", "http://127.0.0.1:9/vc/",
                       "--retries", "0", "--timeout", "0.5")
    assert code == 1
    for key in METADATA_FILES:
        assert err.count(f"failed: {key}: http://127.0.0.1:9/vc/{key}: failed after 1 attempt;") == 1, err
    assert "5 file(s) failed" in err
    assert not any(p.is_file() for p in dest.rglob("*"))
