"""``BrainObservatoryNwbDataSet``: AllenSDK's per-session accessors over :class:`brainobs.io.Session`.

Return types follow AllenSDK: traces come back as ``(timestamps, array)``, running speed as
``(dxcm, dxtime)``, stimulus tables without the brainobs time columns.

Example
-------
>>> ds = BrainObservatoryNwbDataSet("ophys_experiment_data/501940850.nwb")  # doctest: +SKIP
>>> t, dff = ds.get_dff_traces()  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainobs._validate import as_int_list

_TIME_COLUMNS = ("start_time", "end_time")


# The keys AllenSDK 2.16's get_metadata() returns (when the file has them).
_ALLENSDK_METADATA_KEYS = (
    "sex", "targeted_structure", "ophys_experiment_id", "experiment_container_id",
    "excitation_lambda", "indicator", "fov", "genotype", "session_start_time", "session_type",
    "specimen_name", "age_days", "device", "device_name", "pipeline_version",
)


class BrainObservatoryNwbDataSet:
    """One session file, read through :class:`brainobs.io.Session`.

    Parameters
    ----------
    nwb_file : str or Path
        Path of the NWB 1.x session file.
    """

    def __init__(self, nwb_file: str | Path):
        from brainobs.io import Session  # lazy: the io layer is only needed here

        self.nwb_file = str(nwb_file)
        self.session = Session(nwb_file)

    def __repr__(self) -> str:
        return f"BrainObservatoryNwbDataSet({self.nwb_file!r})"

    # ---------------------------------------------------------------- metadata

    def get_metadata(self) -> dict:
        """Session metadata with exactly AllenSDK's ``get_metadata()`` keys and values.

        As in AllenSDK, ``cre_line`` is the first part of the genotype *with* its allele
        (``"Cux2-CreERT2/wt"``) and keys the file lacks are absent. brainobs's own
        ``Session.metadata`` has the clean Cre line and more keys.
        """
        meta = self.session.metadata
        out = {k: meta[k] for k in _ALLENSDK_METADATA_KEYS if meta.get(k) is not None}
        genotype = meta.get("genotype")
        out["cre_line"] = str(genotype).split(";")[0] if genotype else None
        out["imaging_depth_um"] = meta.get("imaging_depth_um")
        return out

    def get_session_type(self) -> str | None:
        return self.session.session_type

    def list_stimuli(self) -> list[str]:
        return list(self.session.list_stimuli())

    @property
    def number_of_cells(self) -> int:
        return len(self.get_cell_specimen_ids())

    def get_cell_specimen_ids(self) -> np.ndarray:
        return np.asarray(self.session.cell_specimen_ids)

    def get_roi_ids(self) -> np.ndarray:
        return np.asarray(self.session.roi_ids)

    def get_cell_specimen_indices(self, cell_specimen_ids) -> list[int]:
        """Positions of the ids in :meth:`get_cell_specimen_ids`; ValueError naming unknown ids."""
        ids = as_int_list(cell_specimen_ids, "cell_specimen_ids") or []
        lookup = {int(c): i for i, c in enumerate(self.get_cell_specimen_ids())}
        unknown = [i for i in ids if i not in lookup]
        if unknown:
            raise ValueError(
                f"Cell specimen not found ({', '.join(map(str, unknown))}) in {self.nwb_file}"
            )
        return [lookup[i] for i in ids]

    # ------------------------------------------------------------------ images

    def get_max_projection(self) -> np.ndarray:
        return np.asarray(self.session.max_projection)

    def get_roi_mask_array(self, cell_specimen_ids=None) -> np.ndarray:
        """uint8 0/1 masks, shape (N, height, width), as AllenSDK returns them."""
        masks = np.asarray(self.session.roi_masks(self._ids(cell_specimen_ids)))
        if masks.shape[0] == 0:
            raise OSError("no masks found for given cell specimen ids")
        return masks.astype(np.uint8)

    # ------------------------------------------------------------------ traces

    def _ids(self, cell_specimen_ids) -> list[int] | None:
        ids = as_int_list(cell_specimen_ids, "cell_specimen_ids")
        if ids is not None:
            self.get_cell_specimen_indices(ids)  # AllenSDK-style ValueError on unknown ids
        return ids

    def get_fluorescence_timestamps(self) -> np.ndarray:
        return np.asarray(self.session.timestamps)

    def _trace(self, method: str, cell_specimen_ids) -> tuple[np.ndarray, np.ndarray]:
        data = getattr(self.session, method)(self._ids(cell_specimen_ids))
        return self.get_fluorescence_timestamps(), np.asarray(data)

    def get_dff_traces(self, cell_specimen_ids=None) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, dF/F array cells × frames)."""
        return self._trace("dff", cell_specimen_ids)

    def get_fluorescence_traces(self, cell_specimen_ids=None) -> tuple[np.ndarray, np.ndarray]:
        return self._trace("fluorescence", cell_specimen_ids)

    def get_corrected_fluorescence_traces(
        self, cell_specimen_ids=None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._trace("corrected_fluorescence", cell_specimen_ids)

    def get_neuropil_traces(self, cell_specimen_ids=None) -> tuple[np.ndarray, np.ndarray]:
        return self._trace("neuropil", cell_specimen_ids)

    def get_demixed_traces(self, cell_specimen_ids=None) -> tuple[np.ndarray, np.ndarray]:
        return self._trace("demixed", cell_specimen_ids)

    def get_neuropil_r(self, cell_specimen_ids=None) -> np.ndarray:
        return np.asarray(self.session.neuropil_r(self._ids(cell_specimen_ids)))

    # ---------------------------------------------------------------- stimulus

    def get_stimulus_table(self, stimulus_name: str) -> pd.DataFrame:
        """AllenSDK columns only: features (or frame[, repeat]) + start, end."""
        table = self.session.stimulus_table(stimulus_name)
        table = table.drop(columns=[c for c in _TIME_COLUMNS if c in table.columns])
        if stimulus_name == "master":
            table = table[sorted(table.columns)]  # AllenSDK concatenates with sort=True
        return table

    def get_stimulus_epoch_table(self) -> pd.DataFrame:
        return self.session.stimulus_epoch_table()[["stimulus", "start", "end"]]

    def get_stimulus_template(self, stimulus_name: str) -> np.ndarray:
        return np.asarray(self.session.stimulus_template(stimulus_name))

    # --------------------------------------------------------------- behaviour

    def get_running_speed(self) -> tuple[np.ndarray, np.ndarray]:
        """(dxcm, dxtime): speed (cm/s) then timestamps, aligned to the 2p frames."""
        df = self.session.running_speed()
        return df["speed"].to_numpy(), df["time"].to_numpy()

    def get_motion_correction(self) -> pd.DataFrame:
        """Feature columns (e.g. x_motion, y_motion) plus ``timestamp``, as AllenSDK."""
        return self.session.motion_correction().rename(columns={"time": "timestamp"})

    def get_pupil_location(self, as_spherical: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, locations N×2): degrees when ``as_spherical`` else cm on the monitor."""
        df = self.session.pupil_location(as_spherical=as_spherical)
        return df["time"].to_numpy(), df[["x", "y"]].to_numpy()

    def get_pupil_size(self) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, pupil area in pixels)."""
        df = self.session.pupil_size()
        return df["time"].to_numpy(), df["size"].to_numpy()
