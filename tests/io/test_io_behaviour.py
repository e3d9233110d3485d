from __future__ import annotations

import numpy as np
import pytest
from io_nwb_factory import N_FRAMES, TIMESTAMPS, running_speed

from brainobs.errors import MissingDataError


@pytest.mark.parametrize("fixture", ["session", "session_v1"])
def test_running_speed_aligned(request, fixture):
    s = request.getfixturevalue(fixture)  # v1 stores speed N x 1
    table = s.running_speed()
    assert list(table.columns) == ["time", "speed"]
    np.testing.assert_array_equal(table["time"], TIMESTAMPS)
    _, _, expected = running_speed()
    np.testing.assert_array_equal(table["speed"].to_numpy(), expected)
    assert np.isnan(table["speed"][:20]).all() and np.isnan(table["speed"][290:]).all()
    assert np.isnan(table["speed"][150:160]).all()
    assert table.attrs["units"] == "cm/s"


def test_pupil_and_motion(session):
    loc = session.pupil_location()
    assert list(loc.columns) == ["time", "x", "y"] and len(loc) == N_FRAMES
    np.testing.assert_array_equal(loc["y"], np.arange(1, 2 * N_FRAMES, 2))
    assert loc.attrs["units"] == "degrees"
    assert session.pupil_location(as_spherical=False).attrs["units"] == "cm"
    size = session.pupil_size()
    np.testing.assert_allclose(size["size"], np.linspace(1, 2, N_FRAMES))
    mc = session.motion_correction()
    assert list(mc.columns) == ["x_motion", "y_motion", "time"]
    np.testing.assert_array_equal(mc["y_motion"], -np.arange(N_FRAMES))


def test_missing_optional_groups(session_v1):
    s = session_v1
    with pytest.raises(MissingDataError, match=r"v1\.nwb: no pupil tracking \(.*EyeTracking/pupil_location_spherical\) in this file"):
        s.pupil_location()
    with pytest.raises(MissingDataError, match=r"no pupil size \(.*PupilTracking/pupil_size\)"):
        s.pupil_size()
    with pytest.raises(MissingDataError, match=r"no motion correction \(.*MotionCorrection"):
        s.motion_correction()
    with pytest.raises(LookupError):
        s.pupil_size()


def test_motion_correction_variants(tmp_path, v3_path):
    import shutil

    import h5py

    from brainobs.io import Session, layout

    p = tmp_path / "m.nwb"
    shutil.copy(v3_path, p)
    with h5py.File(p, "a") as f:
        f.move(layout.MOTION_CORRECTION, layout.MOTION_CORRECTION_PLURAL)
        del f[layout.MOTION_CORRECTION_PLURAL + "/feature_description"]
        del f[layout.RUNNING_SPEED + "/timestamps"]
    with Session(p) as s:
        assert list(s.motion_correction().columns) == ["x_motion", "y_motion", "time"]
        with pytest.raises(MissingDataError, match="no running speed"):
            s.running_speed()
