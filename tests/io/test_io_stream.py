"""Streaming reads: sessions opened from an http:// URL served by a local range server.

Every streamed value is compared with the same value read from the local file, and the
server counts the bytes it sends, so "reads only what is asked" is measured, not assumed.
"""

from __future__ import annotations

import json
import pickle
import socket
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from range_server import RangeServer

from brainobs.catalog import open_observatory
from brainobs.cli import main
from brainobs.errors import MissingDependencyError, NWBFileError, UnknownIdError
from brainobs.io import Session, open_session
from brainobs.io import remote as remote_mod

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")

SMALL_BLOCKS = 16 * 1024  # the tiny files are 1.5-2 MB: blocks fine enough to show selectivity


@pytest.fixture(scope="module")
def server(tiny_observatory: Path):
    with RangeServer(tiny_observatory) as srv:
        yield srv


@pytest.fixture(scope="module")
def experiment(tiny_observatory: Path) -> tuple[int, Path]:
    obs = open_observatory(tiny_observatory)
    exp = obs.experiments(session_type="three_session_A").iloc[0]
    eid = int(exp["id"])
    return eid, obs.session_path(eid)


def url_of(server: RangeServer, eid: int) -> str:
    return f"{server.url}ophys_experiment_data/{eid}.nwb"


def test_metadata_and_traces_equal_the_local_file(server, experiment):
    eid, path = experiment
    with Session(url_of(server, eid)) as s, Session(path) as local:
        assert s.is_remote and not local.is_remote
        assert s.url == url_of(server, eid) and s.path.name == f"{eid}.nwb"
        assert s.metadata == local.metadata
        assert repr(s) == repr(local)
        np.testing.assert_array_equal(s.timestamps, local.timestamps)
        np.testing.assert_array_equal(s.cell_specimen_ids, local.cell_specimen_ids)
        ids = local.cell_specimen_ids[[5, 0, 3]]
        for kind in ("dff", "fluorescence", "neuropil", "corrected_fluorescence"):
            remote_da = getattr(s, kind)(ids, frames=(100, 2100))
            local_da = getattr(local, kind)(ids, frames=(100, 2100))
            np.testing.assert_array_equal(remote_da.values, local_da.values)
            np.testing.assert_array_equal(remote_da["time"].values, local_da["time"].values)
            assert remote_da.attrs["source"] == url_of(server, eid)
        np.testing.assert_array_equal(s.dff().values, local.dff().values)
        np.testing.assert_array_equal(s.roi_masks(ids), local.roi_masks(ids))
        pd.testing.assert_frame_equal(s.running_speed(), local.running_speed())


def test_stimulus_tables_equal_the_local_file(server, experiment):
    eid, path = experiment
    with Session(url_of(server, eid)) as s, Session(path) as local:
        assert s.list_stimuli() == local.list_stimuli()
        for name in [*local.list_stimuli(), "master"]:
            pd.testing.assert_frame_equal(s.stimulus_table(name), local.stimulus_table(name))
        pd.testing.assert_frame_equal(s.stimulus_epoch_table(), local.stimulus_epoch_table())


def test_metric_from_the_url_equals_the_local_file(server, experiment):
    from brainobs.metrics import analyze

    eid, path = experiment
    with Session(url_of(server, eid)) as s, Session(path) as local:
        streamed = analyze(s, n_shuffles=50)
        expected = analyze(local, n_shuffles=50)
    assert len(expected) == local.n_cells and expected.notna().any().any()
    pd.testing.assert_frame_equal(streamed, expected)


def test_metadata_and_three_cells_transfer_a_small_fraction(server, experiment):
    eid, path = experiment
    size = path.stat().st_size
    server.reset()
    with Session(url_of(server, eid), block_size=SMALL_BLOCKS) as s:
        after_metadata = server.bytes_sent
        ids = s.cell_specimen_ids[:3]
        dff = s.dff(ids)
        after_dff = server.bytes_sent
        # the session's own count of received bytes agrees with the server's
        assert s.bytes_fetched == after_dff
    with Session(path) as local:
        np.testing.assert_array_equal(dff.values, local.dff(ids).values)
    # ranged GETs only (plus the HEAD asking the size); no request for the whole file
    gets = [r for r in server.requests if r[0] == "GET"]
    assert gets and all(r[2] and r[2].startswith("bytes=") for r in gets)
    assert 0 < after_metadata < after_dff
    assert after_metadata < 0.25 * size, (after_metadata, size)
    assert after_dff < 0.5 * size, (after_dff, size)


def test_default_blocks_still_read_less_than_the_file(server, experiment):
    eid, path = experiment
    server.reset()
    with Session(url_of(server, eid)) as s:
        s.dff(s.cell_specimen_ids[:3])
    assert server.bytes_sent < path.stat().st_size


def test_pickled_remote_session_reopens_the_url(server, experiment):
    eid, path = experiment
    s = Session(url_of(server, eid))
    s.close()
    clone = pickle.loads(pickle.dumps(s))
    with clone, Session(path) as local:
        assert clone.url == s.url and clone.metadata == local.metadata
        np.testing.assert_array_equal(clone.dff(frames=(0, 50)).values, local.dff(frames=(0, 50)).values)


def _dff_sum(session: Session) -> float:
    with session:
        return float(np.nansum(session.dff(frames=(0, 500)).values))


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_remote_session_reads_in_a_forked_worker(server, experiment):
    # A parent that already streams from the server hands the session to worker processes
    # (as a process pool or a Dask worker would): each reopens the URL itself.
    import multiprocessing

    eid, path = experiment
    with Session(url_of(server, eid)) as s, Session(path) as local:
        assert len(s.timestamps) == s.n_frames  # the parent is connected when the workers start
        with multiprocessing.get_context("fork").Pool(2) as pool:
            got = pool.map(_dff_sum, [s, s])
        assert got == [_dff_sum(local)] * 2


def test_missing_file_names_the_url_and_status(server):
    url = f"{server.url}ophys_experiment_data/123.nwb"
    with pytest.raises(NWBFileError, match=r"ophys_experiment_data/123\.nwb.*HTTP 404"):
        open_session(url)


def test_not_hdf5_names_the_url(server):
    url = f"{server.url}manifest.json"
    with pytest.raises(NWBFileError, match=r"manifest\.json: not an HDF5 file"):
        Session(url)


def test_unreachable_server_names_the_url():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ophys_experiment_data/1.nwb"
    with pytest.raises(NWBFileError, match=rf"127\.0\.0\.1:{port}/ophys_experiment_data/1\.nwb.*unreachable"):
        Session(url)


def test_server_error_status_is_named(monkeypatch, tiny_observatory, experiment):
    monkeypatch.setattr(remote_mod, "RETRY_DELAY", 0.0)
    eid, _ = experiment
    with RangeServer(tiny_observatory, status=503) as srv:
        with pytest.raises(NWBFileError, match=r"HTTP 503"):
            Session(url_of(srv, eid))
        assert len(srv.requests) > remote_mod.RETRIES  # a 5xx is tried again before giving up


@pytest.mark.parametrize("fault", ["fail_first", "drop_first"])
def test_transient_faults_are_retried(monkeypatch, tiny_observatory, experiment, fault):
    monkeypatch.setattr(remote_mod, "RETRY_DELAY", 0.0)
    eid, path = experiment
    with RangeServer(tiny_observatory, **{fault: 2}) as srv:
        with Session(url_of(srv, eid), block_size=SMALL_BLOCKS) as s, Session(path) as local:
            np.testing.assert_array_equal(s.dff().values, local.dff().values)
            assert s.metadata == local.metadata
        assert getattr(srv, fault) == 0  # both faults were injected (and survived)


def test_persistent_server_errors_end_in_a_clear_error(monkeypatch, tiny_observatory, experiment):
    monkeypatch.setattr(remote_mod, "RETRY_DELAY", 0.0)
    eid, _ = experiment
    with RangeServer(tiny_observatory, fail_first=10**6) as srv:
        with pytest.raises(NWBFileError, match=r"reading the file over HTTP failed \(HTTP 500\)"):
            Session(url_of(srv, eid), block_size=SMALL_BLOCKS)
        ranged = [r for r in srv.requests if r[2]]
        assert len(ranged) == remote_mod.RETRIES + 1  # tried, then gave up


def test_server_ignoring_range_is_a_clear_error(tiny_observatory, experiment):
    eid, _ = experiment
    with RangeServer(tiny_observatory, ignore_range=True) as srv:
        with pytest.raises(NWBFileError, match=r"ignores HTTP range requests") as info:  # noqa: PT012
            with Session(url_of(srv, eid), block_size=SMALL_BLOCKS) as s:
                s.dff(s.cell_specimen_ids[:3])
        assert url_of(srv, eid) in str(info.value)


def test_server_ignoring_range_reads_a_file_within_one_block(tiny_observatory, experiment):
    # A file no larger than one block is fetched from offset 0 in one request, which needs
    # no range support: the values are still right.
    eid, path = experiment
    with RangeServer(tiny_observatory, ignore_range=True) as srv:
        with Session(url_of(srv, eid), block_size=4 << 20) as s, Session(path) as local:
            np.testing.assert_array_equal(s.dff().values, local.dff().values)


def test_missing_packages_say_what_to_install(monkeypatch, server, experiment):
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    with pytest.raises(MissingDependencyError, match=r"aiohttp.*pip install 'brainobs\[stream\]'"):
        Session(url_of(server, experiment[0]))


def test_source_url_and_session_url(monkeypatch):
    monkeypatch.delenv(remote_mod.SOURCE_ENV, raising=False)
    assert remote_mod.session_url(5) == (
        "https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/ophys_experiment_data/5.nwb")
    monkeypatch.setenv(remote_mod.SOURCE_ENV, "http://127.0.0.1:9/mirror")
    assert remote_mod.session_url(5) == "http://127.0.0.1:9/mirror/ophys_experiment_data/5.nwb"
    assert remote_mod.session_url(5, "https://x/y/") == "https://x/y/ophys_experiment_data/5.nwb"
    with pytest.raises(ValueError, match="ftp://x"):
        remote_mod.source_url("ftp://x")
    monkeypatch.setenv(remote_mod.SOURCE_ENV, "/local/folder")
    with pytest.raises(ValueError, match=r"BRAINOBS_SOURCE.*'/local/folder'"):
        remote_mod.source_url()


def test_observatory_session_stream(monkeypatch, tiny_observatory, server, experiment):
    eid, path = experiment
    obs = open_observatory(tiny_observatory)
    with obs.session(eid, stream=True, source=server.url) as s, Session(path) as local:
        assert s.url == url_of(server, eid)
        np.testing.assert_array_equal(s.dff(frames=(0, 100)).values, local.dff(frames=(0, 100)).values)
    monkeypatch.setenv(remote_mod.SOURCE_ENV, server.url.rstrip("/"))
    with obs.session(eid, stream=True) as s:
        assert s.url == url_of(server, eid)
    with pytest.raises(UnknownIdError, match="123"):
        obs.session(123, stream=True, source=server.url)
    with pytest.raises(ValueError, match="stream=True"):
        obs.session(eid, source=server.url)


def run(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_session_url_prints_the_metadata(capsys, tiny_observatory, server, experiment):
    eid, path = experiment
    code, out, _ = run(capsys, "session", url_of(server, eid), "-f", "json")
    assert code == 0
    streamed = json.loads(out)
    code, out, _ = run(capsys, "session", path, "-f", "json")
    assert code == 0 and streamed == json.loads(out)
    assert streamed["metadata"]["ophys_experiment_id"] == eid
    code, out, _ = run(capsys, "session", str(eid), "-d", tiny_observatory, "--stream", "--source",
                       server.url, "-f", "json")
    assert code == 0 and json.loads(out) == streamed


def test_cli_session_url_errors_are_one_line(capsys, tiny_observatory, server):
    code, _, err = run(capsys, "session", f"{server.url}ophys_experiment_data/123.nwb")
    assert code == 2 and "HTTP 404" in err and "123.nwb" in err and "Traceback" not in err
    code, _, err = run(capsys, "session", f"{server.url}x.nwb", "--stream")
    assert code == 2 and "--stream" in err
    code, _, err = run(capsys, "session", "1", "-d", tiny_observatory, "--source", server.url)
    assert code == 2 and "--source" in err
