"""brainobs.fetch against a local fault-injecting server: every file byte-identical to the
source, nothing wrong ever accepted, resumes with Range, reruns fetch only what is missing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from brainobs.catalog import open_observatory
from brainobs.errors import FetchError, SourceError
from brainobs.fetch import (
    METADATA_FILES,
    PART_SUFFIX,
    RECORD_DIR,
    download,
    nwb_key,
    plan,
    resolve_source,
)


def experiment_ids(root: Path) -> list[int]:
    """Experiment ids read straight from the JSON (independent of the catalog)."""
    return sorted(int(e["id"]) for e in json.loads((root / "ophys_experiments.json").read_text()))


def all_keys(root: Path) -> list[str]:
    return [*METADATA_FILES, *(nwb_key(i) for i in experiment_ids(root))]


def leftovers(d: Path) -> list[Path]:
    return [p for p in d.rglob("*") if p.name.endswith((PART_SUFFIX, ".tmp"))]


def same_bytes(src: Path, dest: Path, key: str) -> bool:
    return (dest / key).read_bytes() == (src / key).read_bytes()


NWB = nwb_key(500000001)


# ------------------------------------------------------------------------------ whole set


def test_download_everything_then_rerun_requests_nothing(bucket, tiny_observatory, tmp_path, fast):
    dest = tmp_path / "data"
    keys = all_keys(tiny_observatory)
    seen: dict[str, int] = {}
    report = download(keys, dest, bucket.url, jobs=4, progress=lambda k, d, t: seen.__setitem__(k, d), **fast)
    assert report.ok and len(report.of("downloaded")) == len(keys) == 17
    for key in keys:
        assert same_bytes(tiny_observatory, dest, key), key
        assert seen[key] == (tiny_observatory / key).stat().st_size  # progress reached the end
    assert report.bytes_downloaded == sum((tiny_observatory / k).stat().st_size for k in keys)
    assert not leftovers(dest)
    # the catalog shows the downloaded files at once, with the same sessions as the source
    got, want = open_observatory(dest), open_observatory(tiny_observatory)
    assert sorted(got.experiments()["id"]) == sorted(want.experiments()["id"])
    assert sorted(got.experiments(include_failed=True)["id"]) == experiment_ids(tiny_observatory)
    assert not (dest / "brainobs.json").exists()  # a real AllenSDK cache layout, not a synthetic dir
    # a rerun: nothing is requested, everything is present
    n = len(bucket.log)
    again = download(keys, dest, bucket.url, **fast)
    assert [r.status for r in again.results] == ["present"] * len(keys)
    assert len(bucket.log) == n


def test_dry_run_totals_are_the_real_sizes_and_write_nothing(bucket, tiny_observatory, tmp_path, fast):
    dest = tmp_path / "data"
    keys = all_keys(tiny_observatory)
    files = plan(keys, dest, bucket.url, **fast)
    assert [f.state for f in files] == ["missing"] * len(keys)
    assert sum(f.size for f in files) == sum((tiny_observatory / k).stat().st_size for k in keys)
    assert not dest.exists()
    assert {m for m, _, _ in bucket.log} == {"HEAD"}
    download(keys[:3], dest, bucket.url, **fast)
    states = [f.state for f in plan(keys, dest, bucket.url, **fast)]
    assert states == ["present"] * 3 + ["missing"] * (len(keys) - 3)


# ------------------------------------------------------------------------------ faults


@pytest.mark.parametrize("fault", ["drop", "500", "slow", "stall", "long_length", "short_length", "corrupt",
                                   "no_range"])
def test_one_fault_then_success(bucket, tiny_observatory, tmp_path, fast, fault):
    """Each fault once (drop twice; no_range on the resume after a drop): retried, and the
    file is byte-identical."""
    dest = tmp_path / "data"
    bucket.inject(NWB, *{"drop": ["drop", "drop"], "no_range": ["drop", "no_range"]}.get(fault, [fault]))
    report = download([NWB], dest, bucket.url, **fast)
    assert report.ok, report.failed
    assert same_bytes(tiny_observatory, dest, NWB)
    assert not leftovers(dest)
    gets = bucket.gets(NWB)
    assert len(gets) >= 2
    if fault == "drop":  # the broken transfer is resumed, not restarted
        assert gets[0] is None and gets[1] is not None and gets[1].startswith("bytes=")
        assert gets[2] is not None and int(gets[2][6:-1]) > int(gets[1][6:-1])
    if fault == "no_range":  # asked to resume, got the whole file (200): taken from byte 0
        assert len(gets) == 2 and gets[1] is not None


def test_a_server_that_ignores_range_restarts_from_zero(bucket, tiny_observatory, tmp_path, fast):
    bucket.ignore_range = True
    bucket.inject(NWB, "drop", "drop")
    report = download([NWB], tmp_path, bucket.url, **fast)
    assert report.ok and same_bytes(tiny_observatory, tmp_path, NWB)
    assert bucket.gets(NWB)[1] is not None  # it asked for a range, got 200, and started over


@pytest.mark.parametrize("fault", ["corrupt", "short_length", "long_length", "drop", "500"])
def test_nothing_wrong_is_accepted(bucket, tiny_observatory, tmp_path, fault):
    """A fault on every attempt: the file fails, never appears, and a rerun completes it."""
    bucket.inject(NWB, *[fault] * 4)
    report = download([NWB], tmp_path, bucket.url, timeout=0.5, retries=3, backoff=0.01)
    assert not report.ok
    (bad,) = report.failed
    assert bad.key == NWB and bucket.url in bad.error and "Rerun" in bad.error
    assert not (tmp_path / NWB).exists()
    assert not (tmp_path / RECORD_DIR / f"{NWB}.json").exists()
    again = download([NWB], tmp_path, bucket.url, timeout=0.5, retries=3, backoff=0.01)
    assert again.ok and same_bytes(tiny_observatory, tmp_path, NWB)
    assert not leftovers(tmp_path)


def test_without_an_md5_etag_the_size_is_checked(bucket, tiny_observatory, tmp_path, fast):
    bucket.etag = "multipart"  # an S3 multipart ETag is not an MD5: size only
    bucket.inject(NWB, "short_length", "long_length")
    assert download([NWB], tmp_path, bucket.url, **fast).ok
    assert same_bytes(tiny_observatory, tmp_path, NWB)
    bucket.etag = None
    assert download([nwb_key(500000002)], tmp_path, bucket.url, **fast).ok
    assert same_bytes(tiny_observatory, tmp_path, nwb_key(500000002))


def test_a_wrong_partial_file_is_caught_by_the_checksum(bucket, tiny_observatory, tmp_path, fast):
    target = tmp_path / NWB
    target.parent.mkdir(parents=True)
    part = target.with_name(target.name + PART_SUFFIX)
    part.write_bytes(b"\0" * 1000)  # not a prefix of the file
    report = download([NWB], tmp_path, bucket.url, **fast)
    assert report.ok and same_bytes(tiny_observatory, tmp_path, NWB)
    gets = bucket.gets(NWB)
    assert gets == ["bytes=1000-", None]  # resumed, MD5 failed, restarted from byte 0
    assert not part.exists()


def test_a_partial_file_from_an_earlier_run_is_resumed(bucket, tiny_observatory, tmp_path, fast):
    data = (tiny_observatory / NWB).read_bytes()
    target = tmp_path / NWB
    target.parent.mkdir(parents=True)
    target.with_name(target.name + PART_SUFFIX).write_bytes(data[:12345])
    assert download([NWB], tmp_path, bucket.url, **fast).ok
    assert bucket.gets(NWB) == ["bytes=12345-"]
    assert target.read_bytes() == data


def test_files_already_on_disk_are_checked_not_trusted(bucket, tiny_observatory, tmp_path, fast):
    """An existing AllenSDK cache: a whole file is kept without fetching its body; a truncated
    one (as an interrupted AllenSDK download leaves) is replaced."""
    good, short = nwb_key(500000001), nwb_key(500000002)
    for key, n in ((good, None), (short, 5000)):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes((tiny_observatory / key).read_bytes()[:n])
    report = download([good, short], tmp_path, bucket.url, **fast)
    assert [r.status for r in report.results] == ["present", "downloaded"]
    assert bucket.gets(good) == [] and bucket.gets(short) == [None]
    assert same_bytes(tiny_observatory, tmp_path, short)
    # a verified file changed on disk afterwards is checked again (and repaired)
    (tmp_path / good).write_bytes(b"x" * 10)
    assert download([good], tmp_path, bucket.url, **fast).results[0].status == "downloaded"
    assert same_bytes(tiny_observatory, tmp_path, good)


def test_missing_files_optional_and_required(tmp_path, tiny_observatory, fast):
    """A source without manifest.json and stimulus_mappings.json (optional): the standard
    manifest is written and the catalog opens; a missing NWB file fails with a 404 message."""
    import shutil
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from server import FaultServer

    src = tmp_path / "src"
    shutil.copytree(tiny_observatory, src)
    (src / "manifest.json").unlink()
    (src / "stimulus_mappings.json").unlink()
    with FaultServer(src) as srv:
        report = download([*METADATA_FILES, nwb_key(123)], tmp_path / "d", srv.url, **fast)
    status = {r.key: r.status for r in report.results}
    assert status == {"manifest.json": "absent", "experiment_containers.json": "downloaded",
                      "ophys_experiments.json": "downloaded", "cell_specimens.json": "downloaded",
                      "stimulus_mappings.json": "absent", nwb_key(123): "failed"}
    assert "404" in report.failed[0].error and nwb_key(123) in report.failed[0].error
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert any(e.get("spec") == "ophys_experiment_data/%d.nwb" for e in manifest["manifest"])
    got = open_observatory(tmp_path / "d").experiments(include_failed=True)
    assert sorted(got["id"]) == experiment_ids(tiny_observatory)


def test_two_downloads_of_the_same_files_at_once(bucket, tiny_observatory, tmp_path, fast):
    bucket.throttle_s = 0.002
    keys = [nwb_key(i) for i in experiment_ids(tiny_observatory)[:4]]
    reports: list = []
    threads = [threading.Thread(target=lambda: reports.append(download(keys, tmp_path, bucket.url, jobs=2, **fast)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in reports)
    for key in keys:
        assert same_bytes(tiny_observatory, tmp_path, key)
        assert len(bucket.gets(key)) == 1  # the second waited for the first, then found it done
    assert not leftovers(tmp_path)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("bad", ["ftp://x/y", "not a url", "http://", "s3://allen-brain-observatory/x",
                                 "http://h:99999/x"])
def test_bad_source(bad):
    with pytest.raises(SourceError, match="Bad source URL"):
        resolve_source(bad)


def test_source_from_the_environment(monkeypatch):
    monkeypatch.setenv("BRAINOBS_SOURCE", "http://127.0.0.1:1/mirror")
    assert resolve_source() == "http://127.0.0.1:1/mirror/"
    monkeypatch.delenv("BRAINOBS_SOURCE")
    assert resolve_source().startswith("https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/")


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs(tmp_path, jobs):
    with pytest.raises(FetchError, match="jobs must be"):
        download([NWB], tmp_path, "http://127.0.0.1:1/", jobs=jobs)


def test_bad_keys(tmp_path):
    with pytest.raises(FetchError, match="Bad file key"):
        download(["../etc/passwd"], tmp_path, "http://127.0.0.1:1/")


def test_unreachable_source_fails_with_the_url(tmp_path):
    report = download([NWB], tmp_path, "http://127.0.0.1:9/", timeout=0.5, retries=1, backoff=0.01)
    (bad,) = report.failed
    assert "http://127.0.0.1:9/" + NWB in bad.error and "2 attempts" in bad.error


def test_cancel_keeps_the_partial_file_for_the_next_run(bucket, tiny_observatory, tmp_path, fast):
    from brainobs.fetch import Cancelled

    bucket.throttle_s = 0.001
    cancel = threading.Event()

    def progress(key, done, total):
        if done > 100_000:
            cancel.set()

    with pytest.raises(Cancelled):
        download([NWB], tmp_path, bucket.url, progress=progress, cancel=cancel, **fast)
    part = tmp_path / (NWB + PART_SUFFIX)
    size = part.stat().st_size
    assert 100_000 < size < (tiny_observatory / NWB).stat().st_size
    assert not (tmp_path / NWB).exists()
    assert download([NWB], tmp_path, bucket.url, **fast).ok
    assert bucket.gets(NWB) == [None, f"bytes={size}-"]
    assert same_bytes(tiny_observatory, tmp_path, NWB) and not part.exists()
