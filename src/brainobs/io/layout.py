"""Where things live inside an Allen Brain Observatory NWB 1.x file.

One table of HDF5 paths, used by the reader (``brainobs.io``) and the synthetic
writer (``brainobs.synth``), so no path string is repeated across getters.
See ``shared/design/NWB_LAYOUT.md`` for the meaning of each entry.
"""

from __future__ import annotations

PIPE = "processing/brain_observatory_pipeline"

# general/ metadata: key -> dataset path
METADATA_PATHS: dict[str, str] = {
    "nwb_version": "nwb_version",
    "identifier": "identifier",
    "session_start_time": "session_start_time",
    "session_description": "session_description",
    "session_type": "general/session_type",
    "ophys_experiment_id": "general/session_id",
    "experiment_container_id": "general/experiment_container_id",
    # AllenSDK reads the area from the imaging plane's location; general/targeted_structure
    # carries the same acronym and is the fallback.
    "targeted_structure": "general/optophysiology/imaging_plane_1/location",
    "targeted_structure_general": "general/targeted_structure",
    "specimen_name": "general/specimen_name",
    "age": "general/subject/age",
    "sex": "general/subject/sex",
    "genotype": "general/subject/genotype",
    "subject_id": "general/subject/subject_id",
    "imaging_depth": "general/optophysiology/imaging_plane_1/imaging depth",
    "indicator": "general/optophysiology/imaging_plane_1/indicator",
    "imaging_rate": "general/optophysiology/imaging_plane_1/imaging_rate",
    "excitation_lambda": "general/optophysiology/imaging_plane_1/excitation_lambda",
    "fov": "general/fov",
    "device": "general/devices/2-photon microscope",
    "generated_by": "general/generated_by",
}

TWO_PHOTON_TIMESTAMPS = "acquisition/timeseries/2p_image_series/timestamps"

TRACES: dict[str, str] = {
    "dff": f"{PIPE}/DfOverF/imaging_plane_1",
    "fluorescence": f"{PIPE}/Fluorescence/imaging_plane_1",
    "demixed": f"{PIPE}/Fluorescence/imaging_plane_1_demixed_signal",
    "neuropil": f"{PIPE}/Fluorescence/imaging_plane_1_neuropil_response",
}
NEUROPIL_R = f"{PIPE}/Fluorescence/imaging_plane_1_neuropil_response/r"
FLUORESCENCE_R = f"{PIPE}/Fluorescence/imaging_plane_1/r"
ROI_NAMES = f"{PIPE}/DfOverF/imaging_plane_1/roi_names"

SEGMENTATION = f"{PIPE}/ImageSegmentation"
CELL_SPECIMEN_IDS = f"{SEGMENTATION}/cell_specimen_ids"
ROI_IDS = f"{SEGMENTATION}/roi_ids"
IMAGING_PLANE = f"{SEGMENTATION}/imaging_plane_1"
ROI_LIST = f"{IMAGING_PLANE}/roi_list"
REFERENCE_IMAGES = f"{IMAGING_PLANE}/reference_images"
MAX_PROJECTION = f"{REFERENCE_IMAGES}/maximum_intensity_projection_image/data"

RUNNING_SPEED = f"{PIPE}/BehavioralTimeSeries/running_speed"
MOTION_CORRECTION = f"{PIPE}/MotionCorrection/2p_image_series/xy_translation"
PUPIL_LOCATION = f"{PIPE}/EyeTracking/pupil_location"
PUPIL_LOCATION_SPHERICAL = f"{PIPE}/EyeTracking/pupil_location_spherical"
PUPIL_SIZE = f"{PIPE}/PupilTracking/pupil_size"

STIMULUS_PRESENTATION = "stimulus/presentation"
STIMULUS_TEMPLATES = "stimulus/templates"


def stimulus_group(stimulus: str) -> str:
    """Path of a stimulus' presentation group, e.g. ``drifting_gratings``."""
    return f"{STIMULUS_PRESENTATION}/{stimulus}_stimulus"


def template_path(stimulus: str) -> str:
    """Path of a stimulus' template image stack dataset."""
    return f"{STIMULUS_TEMPLATES}/{stimulus}_image_stack/data"


# --- added for the reader (brainobs.io.session) ---
# Pipeline versions < 2.0 keep the neuropil trace next to the fluorescence trace.
NEUROPIL_TRACES_V1 = f"{PIPE}/Fluorescence/imaging_plane_1/neuropil_traces"
# Timestamps of the trace groups (AllenSDK times every trace with the Fluorescence ones).
FLUORESCENCE_TIMESTAMPS = f"{PIPE}/Fluorescence/imaging_plane_1/timestamps"
DFF_TIMESTAMPS = f"{PIPE}/DfOverF/imaging_plane_1/timestamps"
# Some files spell the motion-correction series in the plural; it is tried first.
MOTION_CORRECTION_PLURAL = f"{PIPE}/MotionCorrection/2p_image_series/xy_translations"
