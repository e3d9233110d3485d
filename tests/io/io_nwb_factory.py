"""Small hand-made Allen NWB 1.x session files with known contents.

Layout (300 imaging frames at 30 Hz starting at t = 10 s, 5 cells, 32 x 32 masks):

- drifting_gratings: 2 blocks of 3 sweeps (starts 10, 30, 50 and 235, 255, 275; 15 frames each),
  written out of time order and with float ``frame_duration`` (a real-file quirk);
- spontaneous: intervals 70-100 and 200-230 (+1 / -1 events, frames from column 0);
- natural_movie_one: 3 repeats of a 5-frame movie, 15 presentations of 6 frames from 105;
- running speed: starts at frame 20, ends at frame 289, NaN value at frames 100-104 and no
  samples at frames 150-159.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from brainobs.io import layout

N_CELLS, N_FRAMES, SHAPE = 5, 300, (32, 32)
CELL_IDS = np.array([517, 515, 520, 519, 530], dtype=np.int64)
ROI_IDS = [b"1001", b"1002", b"1003", b"1004", b"1005"]
R = np.array([0.7, 0.5, 0.9, 0.3, 0.65])
TIMESTAMPS = 10.0 + np.arange(N_FRAMES) / 30.0
GENOTYPE = "Cux2-CreERT2/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt"
DEVICE = "Nikon A1R-MP multiphoton microscope. Nikon A1R-MP Please visit the website"

DG_STARTS = np.array([10, 30, 50, 235, 255, 275])
DG_TF = np.array([1.0, 2.0, np.nan, 4.0, 8.0, 15.0])
DG_ORI = np.array([0.0, 45.0, np.nan, 90.0, 135.0, 180.0])
DG_BLANK = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
DG_FILE_ORDER = np.array([1, 0, 2, 3, 5, 4])  # rows written out of time order
SPONT = [(70, 100), (200, 230)]
MOVIE_STARTS = 105 + 6 * np.arange(15)
MOVIE_FRAMES = np.arange(15) % 5
RUN_FIRST, RUN_LAST = 20, 289
RUN_NAN = range(100, 105)
RUN_ABSENT = range(150, 160)


def expected_traces(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (N_CELLS, N_FRAMES)
    return {
        "dff": rng.normal(size=shape).astype(np.float32),
        "fluorescence": rng.uniform(100, 200, size=shape).astype(np.float32),
        "demixed": rng.uniform(100, 200, size=shape).astype(np.float32),
        "neuropil": rng.uniform(10, 50, size=shape).astype(np.float32),
    }


def expected_masks() -> np.ndarray:
    masks = np.zeros((N_CELLS, *SHAPE), dtype=np.uint8)
    for i in range(N_CELLS):
        masks[i, 2 + 5 * i : 4 + 5 * i, 3 + 5 * i : 6 + 5 * i] = 1  # 2 x 3 block
    masks[4, 0, 31] = 1  # one extra pixel in a corner
    return masks


def running_speed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample times, sample values, expected speed per imaging frame)."""
    frames = np.array([f for f in range(RUN_FIRST, RUN_LAST + 1) if f not in RUN_ABSENT])
    values = np.sin(frames / 7.0) * 10 + 12
    values[np.isin(frames, list(RUN_NAN))] = np.nan
    expected = np.full(N_FRAMES, np.nan)
    expected[frames] = values
    # sample clocks jitter a little around the frame times
    times = TIMESTAMPS[frames] + 0.004 * np.cos(frames)
    return times, values, expected


def _str(group: h5py.Group, name: str, text: str, one_element: bool = False) -> None:
    value = np.array([text.encode()]) if one_element else np.bytes_(text.encode())
    group.create_dataset(name, data=value)


def write_session(
    path: Path,
    pipeline_version: str | None = "3.0",
    pupil: bool = True,
    motion: bool = True,
    running_2d: bool = False,
    seed: int = 0,
) -> Path:
    """Write one small NWB 1.x session; ``pipeline_version < 2`` uses the old trace layout."""
    traces = expected_traces(seed)
    v2 = pipeline_version is not None and float(pipeline_version) >= 2.0
    with h5py.File(path, "w") as f:
        _str(f, layout.METADATA_PATHS["nwb_version"], "NWB-1.0.5")
        _str(f, layout.METADATA_PATHS["identifier"], "527745328_test")
        _str(f, layout.METADATA_PATHS["session_start_time"], "Thu Jul 14 10:21:05 2016")
        _str(f, layout.METADATA_PATHS["session_description"], "test session")
        _str(f, layout.METADATA_PATHS["session_type"], "three_session_A", one_element=True)
        _str(f, layout.METADATA_PATHS["ophys_experiment_id"], "527745328")
        f.create_dataset(layout.METADATA_PATHS["experiment_container_id"], data=np.array([511510736]))
        _str(f, layout.METADATA_PATHS["targeted_structure"], "VISp")
        _str(f, layout.METADATA_PATHS["targeted_structure_general"], "VISp")
        _str(f, layout.METADATA_PATHS["specimen_name"], "Cux2-CreERT2;Camk2a-tTA;Ai93-222426")
        _str(f, layout.METADATA_PATHS["age"], "104 days")
        _str(f, layout.METADATA_PATHS["sex"], "male")
        _str(f, layout.METADATA_PATHS["genotype"], GENOTYPE)
        _str(f, layout.METADATA_PATHS["subject_id"], "222426")
        _str(f, layout.METADATA_PATHS["imaging_depth"], "275 microns")
        _str(f, layout.METADATA_PATHS["indicator"], "GCaMP6f")
        _str(f, layout.METADATA_PATHS["imaging_rate"], "30.0 Hz")
        _str(f, layout.METADATA_PATHS["excitation_lambda"], "910 nanometers")
        _str(f, layout.METADATA_PATHS["fov"], "400x400 microns (512 x 512 pixels)")
        _str(f, layout.METADATA_PATHS["device"], DEVICE)
        if pipeline_version is not None:
            f.create_dataset(
                layout.METADATA_PATHS["generated_by"],
                data=np.array([b"Allen Institute for Brain Science", b"ophys", pipeline_version.encode()]),
            )

        f.create_dataset(layout.TWO_PHOTON_TIMESTAMPS, data=TIMESTAMPS)
        dff = f.create_group(layout.TRACES["dff"])
        dff.create_dataset("data", data=traces["dff"], chunks=(1, 100))
        dff.create_dataset("timestamps", data=TIMESTAMPS)
        dff.create_dataset("roi_names", data=np.array([f"roi_{i}".encode() for i in range(N_CELLS)]))
        fl = f.create_group(layout.TRACES["fluorescence"])
        fl.create_dataset("data", data=traces["fluorescence"], chunks=(1, 100))
        fl.create_dataset("timestamps", data=TIMESTAMPS)
        if v2:
            f.create_dataset(f"{layout.TRACES['demixed']}/data", data=traces["demixed"])
            f.create_dataset(f"{layout.TRACES['neuropil']}/data", data=traces["neuropil"])
            f.create_dataset(layout.NEUROPIL_R, data=R)
        else:
            f.create_dataset(layout.NEUROPIL_TRACES_V1, data=traces["neuropil"])
            f.create_dataset(layout.FLUORESCENCE_R, data=R)

        f.create_dataset(layout.CELL_SPECIMEN_IDS, data=CELL_IDS)
        f.create_dataset(layout.ROI_IDS, data=np.array(ROI_IDS))
        names = [f"roi_{i}".encode() for i in range(N_CELLS)]
        f.create_dataset(layout.ROI_LIST, data=np.array(names))
        for name, mask in zip(names, expected_masks(), strict=True):
            f.create_dataset(f"{layout.IMAGING_PLANE}/{name.decode()}/img_mask", data=mask)
        f.create_dataset(layout.MAX_PROJECTION, data=np.arange(SHAPE[0] * SHAPE[1]).reshape(SHAPE))
        f.create_dataset(
            f"{layout.REFERENCE_IMAGES}/mean_image/data", data=np.ones(SHAPE, dtype=np.float32)
        )

        t, v, _ = running_speed()
        rs = f.create_group(layout.RUNNING_SPEED)
        rs.create_dataset("data", data=v[:, None] if running_2d else v)
        rs.create_dataset("timestamps", data=t)

        if motion:
            mc = f.create_group(layout.MOTION_CORRECTION)
            mc.create_dataset("data", data=np.stack([np.arange(N_FRAMES), -np.arange(N_FRAMES)], 1))
            mc.create_dataset("timestamps", data=TIMESTAMPS)
            mc.create_dataset("feature_description", data=np.array([b"x_motion", b"y_motion"]))
        if pupil:
            for p, cols in ((layout.PUPIL_LOCATION_SPHERICAL, 2), (layout.PUPIL_LOCATION, 2)):
                g = f.create_group(p)
                g.create_dataset("data", data=np.arange(N_FRAMES * cols, dtype=float).reshape(N_FRAMES, cols))
                g.create_dataset("timestamps", data=TIMESTAMPS)
            g = f.create_group(layout.PUPIL_SIZE)
            g.create_dataset("data", data=np.linspace(1, 2, N_FRAMES))
            g.create_dataset("timestamps", data=TIMESTAMPS)

        dg = f.create_group(layout.stimulus_group("drifting_gratings"))
        data = np.stack([DG_TF, DG_ORI, DG_BLANK], 1)[DG_FILE_ORDER]
        dg.create_dataset("data", data=data)
        dg.create_dataset("features", data=np.array([b"temporal_frequency", b"orientation", b"blank_sweep"]))
        fd = np.stack([DG_STARTS, DG_STARTS + 15], 1).astype(float)[DG_FILE_ORDER]
        dg.create_dataset("frame_duration", data=fd)
        dg.create_dataset("timestamps", data=TIMESTAMPS[DG_STARTS][DG_FILE_ORDER])

        nm = f.create_group(layout.stimulus_group("natural_movie_one"))
        nm.create_dataset("data", data=MOVIE_FRAMES)
        nm.create_dataset("frame_duration", data=np.stack([MOVIE_STARTS, MOVIE_STARTS + 6], 1))
        nm.create_dataset("timestamps", data=TIMESTAMPS[MOVIE_STARTS])

        sp = f.create_group(layout.stimulus_group("spontaneous"))
        events = [(s, 1) for s, _ in SPONT] + [(e, -1) for _, e in SPONT]
        events.sort()
        sp.create_dataset("data", data=np.array([e for _, e in events], dtype=float))
        sp.create_dataset("frame_duration", data=np.array([[fr, fr + 1] for fr, _ in events]))
        sp.create_dataset("timestamps", data=TIMESTAMPS[[fr for fr, _ in events]])

        f.create_dataset(
            layout.template_path("natural_movie_one"),
            data=np.arange(5 * 4 * 6, dtype=np.uint8).reshape(5, 4, 6),
        )
    return path


