"""Determinism, atomic writes and argument validation of generate_observatory."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from brainobs.errors import DataDirError, UnknownValueError
from brainobs.io import layout
from brainobs.synth import ObservatoryExistsError, generate_observatory, read_ground_truth
from brainobs.synth import observatory as obs_mod

ARRAYS = (f"{layout.TRACES['dff']}/data", layout.TWO_PHOTON_TIMESTAMPS,
          f"{layout.stimulus_group('drifting_gratings')}/data", layout.MAX_PROJECTION)


def _arrays(d):
    out = {}
    for path in sorted((d / "ophys_experiment_data").glob("*.nwb")):
        with h5py.File(path, "r") as f:
            for p in ARRAYS:
                if p in f:
                    out[(path.name, p)] = f[p][()]
    return out


def test_same_seed_same_arrays(tmp_path, tiny_observatory):
    a = generate_observatory(tmp_path / "a", size="tiny", seed=0, n_containers=1)
    ref = {k: v for k, v in _arrays(tiny_observatory).items()
           if k[0] in {p.name for p in (a / "ophys_experiment_data").glob("*.nwb")}}
    got = _arrays(a)
    assert got.keys() == ref.keys() and len(got) > 0
    for k in got:
        np.testing.assert_array_equal(got[k], ref[k])  # container 0 is independent of the others
    gt = read_ground_truth(a)
    ref_gt = read_ground_truth(tiny_observatory, int(gt["experiment_container_id"].iloc[0]))
    assert gt.equals(ref_gt)


def test_different_seed_differs(tmp_path):
    a = generate_observatory(tmp_path / "a", size="tiny", seed=0, n_containers=1)
    b = generate_observatory(tmp_path / "b", size="tiny", seed=1, n_containers=1)
    va, vb = _arrays(a), _arrays(b)
    dff_a = next(v for k, v in va.items() if "DfOverF" in k[1])
    dff_b = next(v for k, v in vb.items() if "DfOverF" in k[1])
    assert dff_a.shape != dff_b.shape or not np.array_equal(dff_a, dff_b)
    ids_a = set(read_ground_truth(a)["cell_specimen_id"])
    assert ids_a.isdisjoint(read_ground_truth(b)["cell_specimen_id"])


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def boom(path, content):
        calls.append(path)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(path, content)

    real = obs_mod.write_session_nwb
    monkeypatch.setattr(obs_mod, "write_session_nwb", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_observatory(tmp_path / "obs", size="tiny", n_containers=1)
    assert list(tmp_path.iterdir()) == []


def test_existing_dir_not_overwritten(tmp_path, monkeypatch):
    out = tmp_path / "obs"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(ObservatoryExistsError, match="overwrite"):
        generate_observatory(out, size="tiny", n_containers=1)
    assert isinstance(ObservatoryExistsError("x"), FileExistsError)
    assert isinstance(ObservatoryExistsError("x"), DataDirError)
    # A failure during an overwrite keeps the old directory intact.
    monkeypatch.setattr(obs_mod, "write_session_nwb",
                        lambda p, c: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        generate_observatory(out, size="tiny", n_containers=1, overwrite=True)
    assert (out / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs"]
    monkeypatch.undo()
    generate_observatory(out, size="tiny", n_containers=1, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "brainobs.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obs"]


def test_empty_existing_dir_ok_and_file_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    generate_observatory(tmp_path / "empty", size="tiny", n_containers=1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ObservatoryExistsError):
        generate_observatory(tmp_path / "file", size="tiny", n_containers=1)


def test_progress_callback(tmp_path):
    seen = []
    generate_observatory(tmp_path / "o", size="tiny", n_containers=2,
                         progress=lambda d, t, s: seen.append((d, t, s)))
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1]
    assert all(isinstance(s, str) for _, _, s in seen)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


@pytest.mark.parametrize("kwargs, error", [
    ({"size": "huge"}, UnknownValueError),
    ({"seed": -1}, ValueError),
    ({"seed": 1.5}, ValueError),
    ({"n_containers": 0}, ValueError),
    ({"config": {"nosie": {}}}, ValueError),
])
def test_bad_arguments(tmp_path, kwargs, error):
    with pytest.raises(error):
        generate_observatory(tmp_path / "o", **{"size": "tiny", **kwargs})
    assert not (tmp_path / "o").exists()


def test_config_changes_data(tmp_path):
    cfg = {"defaults": {"frac_responsive": {"dg": 0.0}},
           "cre_lines": {"Cux2-CreERT2": {"frac_responsive": {"dg": 0.0}}}}
    d = generate_observatory(tmp_path / "o", size="tiny", n_containers=1, config=cfg)
    gt = read_ground_truth(d)
    assert not gt["responsive_dg"].any() and gt["dsi_dg_true"].isna().all()


def test_old_container_has_session_c(tmp_path):
    spec = obs_mod._container_specs(obs_mod.SIZES["small"], 12, obs_mod.load_config(), 0)
    assert any(s.session_types[2] == "three_session_C" for s in spec)
    assert sum(s.failed for s in spec) == 1
    assert len({s.cre_line for s in spec}) >= 4 and len({s.area for s in spec}) >= 4
    assert len({s.container_id for s in spec}) == 12


def test_independent_of_hash_seed(tmp_path, tiny_observatory):
    """Same seed in another interpreter (other PYTHONHASHSEED) gives the same arrays."""
    import os
    import subprocess
    import sys

    out = tmp_path / "p"
    code = ("from brainobs.synth import generate_observatory as g; "
            f"g({str(out)!r}, size='tiny', seed=0, n_containers=1)")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    got = _arrays(out)
    ref = _arrays(tiny_observatory)
    assert got and all(np.array_equal(v, ref[k], equal_nan=v.dtype.kind == "f") for k, v in got.items())


def test_finished_observatory_has_normal_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        out = generate_observatory(tmp_path / "o", size="tiny", n_containers=1)
    finally:
        os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o755


def test_worker_processes_write_the_same_observatory(tmp_path):
    import hashlib

    from brainobs.synth import generate_observatory

    digests = []
    for w in (1, 2):
        d = generate_observatory(tmp_path / f"w{w}", size="tiny", seed=3, workers=w)
        digests.append({str(f.relative_to(d)): hashlib.sha256(f.read_bytes()).hexdigest()
                        for f in sorted(d.rglob("*")) if f.is_file() and f.name != "brainobs.json"})
    assert digests[0] == digests[1] and len(digests[0]) > 10
