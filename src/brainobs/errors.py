"""Domain exceptions.

Each subclasses a built-in so that ``except ValueError`` / ``except LookupError`` /
``except OSError`` keep working in user code; each message names the bad value and,
where there is a closed set of valid values, lists them and suggests the closest one.
"""

from __future__ import annotations

from collections.abc import Iterable


def _choice_order(text: str) -> tuple[int, float, str]:
    """Numbers in numeric order (175 before 1000), then text in alphabetical order."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


class BrainobsError(Exception):
    """Base class of every error brainobs raises on purpose."""


class UnknownValueError(BrainobsError, ValueError):
    """A value outside a closed vocabulary (Cre line, area, stimulus, ...)."""

    kind = "value"

    def __init__(self, value: object, choices: Iterable[object], kind: str | None = None,
                 reason: str | None = None):
        from brainobs._validate import closest

        self.value = value
        self.choices = sorted({str(c) for c in choices}, key=_choice_order)
        if kind is not None:
            self.kind = kind
        # ``reason`` replaces "Unknown ..." when the value is valid in general but not here
        # (e.g. a real stimulus that this session does not show): no spelling suggestion then.
        self.suggestion = None if reason else closest(str(value), self.choices)
        hint = f" Did you mean {self.suggestion!r}?" if self.suggestion else ""
        head = reason or f"Unknown {self.kind} {value!r}.{hint}"
        super().__init__(f"{head} Valid choices: {', '.join(self.choices)}.")


class UnknownCreLineError(UnknownValueError):
    kind = "Cre line"


class UnknownAreaError(UnknownValueError):
    kind = "area (targeted structure)"


class UnknownStimulusError(UnknownValueError):
    kind = "stimulus"


class UnknownSessionTypeError(UnknownValueError):
    kind = "session type"


class FamilyNotShownError(UnknownStimulusError):
    """A metric family asked of a session (or container) that does not show its stimulus.

    ``where`` names the session (``"500000001.nwb (three_session_A)"``) or container,
    ``stimuli`` what it shows; the valid choices are the families it can compute.
    """

    kind = "metric family"

    def __init__(self, family: object, where: str, stimuli: Iterable[object],
                 families: Iterable[object]):
        self.where = where
        self.stimuli = [str(s) for s in stimuli]
        shows = ", ".join(self.stimuli) or "no stimuli"
        super().__init__(family, families, reason=(
            f"{where} does not show {family!r}: it shows {shows}."))


class StimulusTableError(BrainobsError, ValueError):
    """A stimulus table that cannot be analysed: empty, too short, or with condition values
    outside the stimulus' range (e.g. a natural-scene frame index beyond the 118 images).
    The message names the file or table, the row, the bad value and the valid values."""


class UnknownIdError(BrainobsError, LookupError):
    """An id (container, experiment, cell specimen) that does not exist."""

    def __init__(self, kind: str, ids: Iterable[object], where: str = "", valid: str = ""):
        self.ids = list(ids)
        shown = ", ".join(str(i) for i in self.ids[:10])
        more = f" (and {len(self.ids) - 10} more)" if len(self.ids) > 10 else ""
        place = f" in {where}" if where else ""
        # ``valid``: the ids that exist (or how to list them), a sentence of its own
        super().__init__(f"Unknown {kind} id(s){place}: {shown}{more}." + (f" {valid}" if valid else ""))

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class NWBFileError(BrainobsError, OSError):
    """A session file that is missing, truncated, corrupt or not an NWB 1.x file."""


class MissingDataError(BrainobsError, LookupError):
    """A dataset that this particular file does not contain (e.g. pupil tracking)."""

    def __str__(self) -> str:
        return str(self.args[0])


class DataDirError(BrainobsError, OSError):
    """A data directory that is neither a brainobs data dir nor an AllenSDK cache dir."""


class MissingMetricsWarning(UserWarning):
    """A cell query whose selection includes containers without computed metrics.

    Emitted by :meth:`brainobs.catalog.Observatory.cells` (and
    ``BrainObservatoryCache.get_cell_specimens``) so that an empty or NaN answer is never
    silent; the message names how many containers lack which metric family and the
    ``brainobs analyze --missing ...`` command that computes them. Silence it with
    ``warn=False`` or :func:`warnings.filterwarnings`.
    """


class AmbiguousValueError(UnknownValueError):
    """A short name that fits several valid values (e.g. a Cre line's gene name)."""

    def __init__(self, value: object, candidates: Iterable[object], kind: str | None = None):
        kind = kind or self.kind
        super().__init__(value, candidates, kind=kind,
                         reason=f"Ambiguous {kind} {value!r}: it fits several; give the full name.")


class NoDataError(BrainobsError, LookupError):
    """Valid choices whose combination has no data in this catalog (the message says which
    choices do have data)."""

    def __str__(self) -> str:
        return str(self.args[0])


class StoreError(BrainobsError, OSError):
    """The catalog store (computed metrics, cached tables) cannot be used as asked."""


class ReadOnlyStoreError(StoreError):
    """Computed metrics cannot be stored: the store folder is not writable.

    Raised before any computation by ``brainobs analyze`` and
    :func:`brainobs.parallel.analyze_missing`, and by
    :meth:`brainobs.catalog.Observatory.save_cells`; the message names the folder and the
    ways out (a store elsewhere, or not storing).
    """

    def __init__(self, folder: object, reason: str):
        self.folder = folder
        self.reason = reason
        super().__init__(
            f"Cannot store computed metrics in {folder}: {reason}. Keep the store in a writable "
            "folder with --store-dir DIR (Python: Observatory(data_dir, store=DIR); or set "
            "BRAINOBS_STORE=DIR), or compute without storing: --no-store (Python: store=False)."
        )

    def __str__(self) -> str:
        return str(self.args[0])


class ArgumentTypeError(BrainobsError, TypeError):
    """An argument of the wrong type (e.g. ``open_observatory(123)``, ``filters=5``)."""

    def __init__(self, name: str, value: object, accepted: str):
        self.name, self.value, self.accepted = name, value, accepted
        super().__init__(f"{name} must be {accepted}; got {type(value).__name__} {value!r}.")


class OutputPathError(BrainobsError, OSError):
    """An output path (``--out``) that cannot be written: checked before any work starts."""

    def __str__(self) -> str:
        return str(self.args[0])


class StoreCorruptionWarning(UserWarning):
    """A catalog store file that cannot be read or is not brainobs's own.

    The file is moved to the store's ``quarantine/`` folder (never overwritten) and the
    message names where it was and where it went; the metrics it held count as missing,
    so ``brainobs analyze --missing`` computes them again.
    """


class MissingDependencyError(BrainobsError, ImportError):
    """An optional feature whose packages are not installed; the message says what to install."""

    def __str__(self) -> str:
        return str(self.args[0])
