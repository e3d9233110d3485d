from __future__ import annotations

import shutil
from datetime import datetime

import h5py
import numpy as np
import pytest
from io_nwb_factory import GENOTYPE, N_CELLS, N_FRAMES

from brainobs.errors import NWBFileError
from brainobs.io import Session, layout, open_session
from brainobs.io._h5 import decode, leading_number, read_strings, version_tuple
from brainobs.io.session import _parse_metadata, _pipeline_version


def test_metadata_values(session):
    m = session.metadata
    assert m["ophys_experiment_id"] == 527745328
    assert m["experiment_container_id"] == 511510736  # stored as a 1-element int array
    assert m["session_type"] == "three_session_A"  # stored as a 1-element byte array
    assert m["targeted_structure"] == "VISp"
    assert m["imaging_depth_um"] == 275
    assert m["age_days"] == 104
    assert m["sex"] == "male"
    assert m["genotype"] == GENOTYPE
    assert m["cre_line"] == "Cux2-CreERT2"
    assert m["reporter_line"] == "Ai93(TITL-GCaMP6f)"
    assert m["device"] == "Nikon A1R-MP multiphoton microscope"
    assert m["device_name"] == "Nikon A1R-MP"
    assert m["pipeline_version"] == "3.0"
    assert m["indicator"] == "GCaMP6f"
    assert m["excitation_lambda"] == "910 nanometers"
    assert m["imaging_rate"] == 30.0
    assert m["session_start_time"] == datetime(2016, 7, 14, 10, 21, 5)
    assert m["specimen_name"] == "Cux2-CreERT2;Camk2a-tTA;Ai93-222426"
    for key in ("age", "imaging_depth", "generated_by", "device_string"):
        assert key not in m or key == "age"
    # returned dict is a copy
    m["session_type"] = "x"
    assert session.session_type == "three_session_A"


def test_properties(session):
    s = session
    assert s.ophys_experiment_id == 527745328
    assert s.experiment_container_id == 511510736
    assert s.targeted_structure == "VISp"
    assert s.imaging_depth == 275
    assert s.cre_line == "Cux2-CreERT2"
    assert s.reporter_line == "Ai93(TITL-GCaMP6f)"
    assert s.genotype == GENOTYPE
    assert s.specimen_name.endswith("222426")
    assert s.age_days == 104
    assert s.sex == "male"
    assert s.device.startswith("Nikon")
    assert s.pipeline_version == "3.0"
    assert s.n_cells == N_CELLS and s.n_frames == N_FRAMES
    assert s.frame_rate == 30.0
    assert s.list_stimuli() == ["drifting_gratings", "natural_movie_one", "spontaneous"]


def test_repr(session):
    text = repr(session)
    for part in ("527745328", "three_session_A", "VISp", "Cux2-CreERT2", "275 µm", "5 cells",
                 "300 frames", "drifting_gratings, natural_movie_one, spontaneous"):
        assert part in text


def test_open_session_and_str_path(v3_path):
    s = open_session(str(v3_path))
    assert isinstance(s, Session) and s.path == v3_path
    s.close()
    s.close()  # idempotent


def test_pipeline_version_default_and_fallbacks(tmp_path, v3_path):
    p = tmp_path / "nogen.nwb"
    shutil.copy(v3_path, p)
    with h5py.File(p, "a") as f:
        del f[layout.METADATA_PATHS["generated_by"]]
        del f[layout.METADATA_PATHS["imaging_rate"]]
        del f[layout.METADATA_PATHS["targeted_structure"]]
        del f[layout.METADATA_PATHS["device"]]
        del f[layout.METADATA_PATHS["age"]]
    with Session(p) as s:
        assert s.pipeline_version == "0.9"
        assert s.targeted_structure == "VISp"  # from general/targeted_structure
        assert s.device is None and s.age_days is None
        assert s.frame_rate == pytest.approx(30.0)  # from the timestamps


def test_pipeline_version_parsing():
    assert _pipeline_version(None) == "0.9"
    assert _pipeline_version([]) == "0.9"
    assert _pipeline_version(["x", "2.0"]) == "2.0"
    assert _pipeline_version("v3.0") == "3.0"
    assert _pipeline_version("ophys pipeline 2.1.0 build") == "2.1.0"
    assert _pipeline_version("custom") == "custom"


def test_parse_metadata_quirks():
    m = _parse_metadata({
        "device": "no sentence structure",
        "age": "unknown",
        "genotype": "",
        "imaging_depth": 175,
        "session_start_time": "not a date",
        "ophys_experiment_id": 12,
    })
    assert m["device"] == "no sentence structure" and m["device_name"] is None
    assert m["age_days"] is None and m["age"] == "unknown"
    assert m["cre_line"] is None and m["reporter_line"] is None
    assert m["imaging_depth_um"] == 175
    assert m["session_start_time"] == "not a date"
    assert m["ophys_experiment_id"] == 12 and m["experiment_container_id"] is None
    assert _parse_metadata({})["pipeline_version"] == "0.9"


def test_h5_helpers():
    assert decode(b"a") == "a"
    assert decode(np.array(["a", "b"])) == ["a", "b"]
    assert decode(np.int64(3)) == 3 and isinstance(decode(np.int64(3)), int)
    assert decode(np.array([1, 2])).tolist() == [1, 2]
    assert leading_number("30.0 Hz") == 30.0 and leading_number("none") is None
    assert leading_number(7) == 7.0
    assert version_tuple("NWB-1.0.5") == (1, 0, 5) and version_tuple("x") == (0,)


def test_read_strings_shapes(tmp_path):
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["scalar"] = np.bytes_(b"one")
        f["nums"] = np.array([1, 2])
        f["num"] = 5
        assert read_strings(f["scalar"]) == ["one"]
        assert read_strings(f["nums"]) == ["1", "2"]
        assert read_strings(f["num"]) == ["5"]


# ----------------------------------------------------------------- broken files
def test_missing_file(tmp_path):
    p = tmp_path / "absent.nwb"
    with pytest.raises(NWBFileError, match=r"absent\.nwb: no such file"):
        Session(p)


def test_directory(tmp_path):
    with pytest.raises(NWBFileError, match="is a directory"):
        Session(tmp_path)


def test_not_hdf5(tmp_path):
    p = tmp_path / "text.nwb"
    p.write_text("hello, I am not HDF5\n" * 100)
    with pytest.raises(NWBFileError, match=r"text\.nwb: not an HDF5 file"):
        Session(p)


def test_truncated(tmp_path, v3_path):
    p = tmp_path / "half.nwb"
    raw = v3_path.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(NWBFileError, match=r"half\.nwb: cannot be read as HDF5 \(truncated or corrupt"):
        Session(p)


def test_nwb_error_is_oserror(tmp_path):
    with pytest.raises(OSError):
        Session(tmp_path / "nope.nwb")


def test_hdf5_not_nwb(tmp_path):
    p = tmp_path / "plain.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(NWBFileError, match=r"plain\.h5: not an NWB 1\.x file \(no /nwb_version"):
        Session(p)


def test_nwb2_rejected(tmp_path):
    p = tmp_path / "nwb2.nwb"
    with h5py.File(p, "w") as f:
        f["nwb_version"] = np.bytes_(b"2.5.0")
    with pytest.raises(NWBFileError, match="NWB version '2.5.0' is not supported"):
        Session(p)


def test_nwb_without_pipeline_module(tmp_path):
    p = tmp_path / "noproc.nwb"
    with h5py.File(p, "w") as f:
        f["nwb_version"] = np.bytes_(b"NWB-1.0.5")
    with pytest.raises(NWBFileError, match="not an Allen Brain Observatory session .*brain_observatory_pipeline"):
        Session(p)


def test_minimal_session_without_optional_parts(tmp_path):
    p = tmp_path / "minimal.nwb"
    with h5py.File(p, "w") as f:
        f["nwb_version"] = np.bytes_(b"NWB-1.0.5")
        f.create_group(layout.PIPE)
    with Session(p) as s:
        assert s.n_cells == 0 and s.n_frames == 0 and s.list_stimuli() == []
        assert s.metadata["timestamps_path"] is None
        assert "0 cells" in repr(s) and "? µm" in repr(s) and "stimuli: none" in repr(s)
