"""Resumable, verified downloads of the real data (catalog JSON files and session NWB files)
from the public open-data bucket, or any mirror with its layout, into a data dir's
AllenSDK cache layout, so that :func:`brainobs.catalog.open_observatory` shows them at once.

Layer: next to :mod:`brainobs.io` and :mod:`brainobs.synth` (below the catalog); the
selection of sessions by area / Cre line / container is done by the caller (the
``brainobs download`` command uses the catalog for it).

>>> from brainobs.fetch import DEFAULT_SOURCE, nwb_key, url_of
>>> url_of(DEFAULT_SOURCE, nwb_key(501940850))
'https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/ophys_experiment_data/501940850.nwb'
"""

from __future__ import annotations

from brainobs.errors import FetchError, SourceError
from brainobs.fetch._transfer import PART_SUFFIX, RECORD_DIR, Cancelled, Progress, Remote, Settings
from brainobs.fetch.download import (
    DEFAULT_SOURCE,
    METADATA_FILES,
    OPTIONAL_FILES,
    SOURCE_ENV,
    DownloadReport,
    FileResult,
    PlannedFile,
    download,
    nwb_key,
    plan,
    resolve_source,
    url_of,
    write_manifest,
)

__all__ = [
    "DEFAULT_SOURCE", "METADATA_FILES", "OPTIONAL_FILES", "PART_SUFFIX", "RECORD_DIR", "SOURCE_ENV",
    "Cancelled", "DownloadReport", "FetchError", "FileResult", "PlannedFile", "Progress", "Remote", "Settings",
    "SourceError", "download", "nwb_key", "plan", "resolve_source", "url_of", "write_manifest",
]
