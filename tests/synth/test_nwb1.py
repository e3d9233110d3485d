"""The low-level NWB 1.x writer on a hand-built minimal session."""

from __future__ import annotations

import h5py
import numpy as np

from brainobs.io import layout
from brainobs.synth import SessionContent, StimulusContent, write_session_nwb


def _content(n=2, t=50):
    masks = np.zeros((n, 512, 512), bool)
    masks[0, 10:14, 20:25] = True
    masks[1, 100:103, 200:202] = True
    traces = np.arange(n * t, dtype=np.float32).reshape(n, t)
    return SessionContent(
        metadata={"session_type": "three_session_B", "age": "90 days",
                  "targeted_structure": "VISl",
                  "generated_by": ["Allen Institute for Brain Science", "x", "3.0"]},
        timestamps=np.arange(t) / 30.0, cell_specimen_ids=np.array([7, 9]), roi_ids=["11", "12"],
        roi_masks=masks, max_projection=np.ones((512, 512), np.uint16), dff=traces,
        fluorescence=traces + 1, demixed=traces + 2, neuropil=traces + 3,
        neuropil_r=np.array([0.7, 0.8]), neuropil_rmse=np.zeros(n),
        running_speed=np.ones(t - 1), running_timestamps=np.arange(1, t) / 30.0,
        motion_xy=np.zeros((t, 2)),
        stimuli=[StimulusContent("natural_scenes", "indexed", np.array([3, -1], np.int32),
                                 np.array([[0, 7], [7, 15]]))],
        templates={"natural_scenes": np.zeros((118, 4, 5), np.uint8)},
    )


def test_minimal_session_roundtrip(tmp_path):
    path = tmp_path / "1.nwb"
    write_session_nwb(path, _content())
    with h5py.File(path, "r") as f:
        assert f["nwb_version"][()] == b"NWB-1.0.4"
        assert f[layout.METADATA_PATHS["targeted_structure_general"]][()] == b"VISl"
        assert f[layout.METADATA_PATHS["generated_by"]][-1] == b"3.0"
        np.testing.assert_array_equal(f[layout.CELL_SPECIMEN_IDS][()], [7, 9])
        assert list(f[layout.ROI_LIST][()]) == [b"11", b"12"]
        m = f[f"{layout.IMAGING_PLANE}/11/img_mask"][()]
        assert m.dtype == np.uint8 and m.sum() == 20
        pix = f[f"{layout.IMAGING_PLANE}/12/pix_mask"][()]
        assert pix.shape == (6, 2) and set(pix[:, 0]) == {200, 201}  # (x, y) pairs
        np.testing.assert_array_equal(f[f"{layout.TRACES['demixed']}/data"][0, :3], [2, 3, 4])
        g = f[layout.stimulus_group("natural_scenes")]
        np.testing.assert_array_equal(g["data"][()], [3, -1])
        np.testing.assert_allclose(g["timestamps"][()], [0, 7 / 30])
        assert "features" not in g
        assert layout.template_path("natural_scenes") in f
        assert layout.PUPIL_SIZE not in f and layout.PUPIL_LOCATION not in f
        # the frame times are stored once and hard-linked into each trace series
        assert f[f"{layout.TRACES['dff']}/timestamps"].id == f[layout.TWO_PHOTON_TIMESTAMPS].id
