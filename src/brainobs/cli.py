"""The ``brainobs`` command: thin wrappers that parse, call the library and print.

User mistakes (unknown Cre line, missing file, bad filter ...) print one clear error
line and exit with status 2; set ``BRAINOBS_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from brainobs.errors import BrainobsError

app = typer.Typer(
    name="brainobs",
    help=(
        "Explore the Allen Brain Observatory Visual Coding 2P dataset offline.\n\n"
        "Start with `brainobs demo`. Every command reads a data dir given by --data-dir, "
        "the BRAINOBS_DATA variable, or ~/brainobs-data; it may be a brainobs data dir or an "
        "existing AllenSDK BrainObservatoryCache dir (the folder of its manifest.json)."
    ),
    epilog=(
        "Examples:  brainobs demo  ·  brainobs containers --area VISp --cre-line Cux2-CreERT2  ·  "
        "brainobs cells --filter 'p_dg < 0.05' --format csv > cells.csv  ·  brainobs session 500000002  ·  "
        "brainobs synth --out ./obs --size tiny.  Run `brainobs COMMAND --help` for each command."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


class Fmt(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


class Size(StrEnum):
    tiny = "tiny"
    small = "small"
    compare = "compare"
    full = "full"


DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", "-d", help="brainobs data dir or AllenSDK cache dir (default: $BRAINOBS_DATA or ~/brainobs-data).",
                 show_default=False),
]
FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="Output format; parquet needs --out.")]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Write the table to this file instead of stdout.",
    # checked when parsed, before any work: a bad path fails before the catalog is read
    callback=lambda path: _checked_out(path))]


def _resolve_data_dir(data_dir: Path | None) -> Path:
    from brainobs.catalog import default_data_dir

    return Path(data_dir).expanduser() if data_dir is not None else default_data_dir()


def _obs(data_dir: Path | None, store: Path | None = None):
    from brainobs.catalog import open_observatory

    return open_observatory(_resolve_data_dir(data_dir), store=store)


# Columns that say which cell / container / session a row is: never hidden to make a table
# fit the terminal (nor is a table's first column).
IDENTITY_COLUMNS = ("id", "cell_specimen_id", "experiment_container_id", "ophys_experiment_id",
                    "targeted_structure", "area", "cre_line", "tld1_name")
_SHOW_ALL = "--format csv or a wider terminal"


@dataclass
class FrameTable:
    """A DataFrame to print as a table: at its natural width when piped, fitted to the
    terminal otherwise (see :func:`show`). ``how`` says how to see hidden columns."""

    frame: pd.DataFrame
    title: str | None = None
    max_rows: int = 60
    how: str = _SHOW_ALL


def _rich_table(df: pd.DataFrame, title: str | None = None, max_rows: int = 60, how: str = _SHOW_ALL
                ) -> FrameTable:
    return FrameTable(df, title, max_rows, how)


def _header_tokens(name: str) -> list[str]:
    """Where a header may break: after each "_" ("cell_", "specimen_", "id")."""
    return re.findall(r"[^_]*_|[^_]+$", name) or [name]


def _wrap_header(name: str, width: int) -> str:
    lines: list[str] = []
    for tok in _header_tokens(name):
        if lines and cell_len(lines[-1] + tok) <= width:
            lines[-1] += tok
        else:
            lines.append(tok)
    return "\n".join(lines)


@dataclass
class _Col:
    name: str
    texts: list[str]
    numeric: bool
    keep: bool  # an identity column: never hidden

    @property
    def data(self) -> int:
        return max((cell_len(t) for t in self.texts), default=0)

    @property
    def minimum(self) -> int:
        head = max(cell_len(t) for t in _header_tokens(self.name))
        if self.numeric or self.keep:  # numbers and names are never cut nor folded
            return max(self.data, head)
        return max(min(self.data, 12), head)  # other text may fold onto several lines

    @property
    def natural(self) -> int:
        return max(self.data, cell_len(self.name))


def _table_width(widths: list[int]) -> int:
    return sum(widths) + 2 * (len(widths) - 1)  # two spaces between columns, no edges


def _layout(cols: list[_Col], width: int | None) -> tuple[list[_Col], list[int]]:
    """The columns shown and their widths: all at their natural width when ``width`` is None
    (piped output); else text folds first, then whole columns are hidden from the right
    (never identity columns), then the room left is shared out."""
    if width is None or _table_width([c.natural for c in cols]) <= width:
        return cols, [c.natural for c in cols]
    shown = list(cols)
    while _table_width([c.minimum for c in shown]) > width:
        droppable = [i for i, c in enumerate(shown) if not c.keep]
        if not droppable:
            break  # only identity columns left: printed whole, wider than the terminal
        del shown[droppable[-1]]
    widths = [c.minimum for c in shown]
    spare = width - _table_width(widths)
    # room left: first to the columns that need least to be whole (most unwrapped headers)
    for i in sorted(range(len(shown)), key=lambda i: shown[i].natural - widths[i]):
        extra = min(spare, shown[i].natural - widths[i])
        if extra <= 0:
            continue
        widths[i] += extra
        spare -= extra
    return shown, widths


def _render(view: FrameTable, width: int | None) -> tuple[Table, list[str]]:
    """A rich Table of ``view`` (fitted to ``width``) and the names of the columns hidden."""
    df = view.frame
    shown_rows = df.head(view.max_rows)
    cols = []
    for i, col in enumerate(df.columns):
        s = df[col]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        cols.append(_Col(str(col), [_cell_text(v) for v in shown_rows[col].tolist()], numeric,
                         keep=i == 0 or str(col) in IDENTITY_COLUMNS))
    shown, widths = _layout(cols, width)
    table = Table(title=view.title, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, collapse_padding=True)
    for c, w in zip(shown, widths, strict=True):
        table.add_column(Text(_wrap_header(c.name, w)), width=w, justify="right" if c.numeric else "left",
                         no_wrap=c.numeric or c.keep, overflow="fold")
    for r in range(len(shown_rows)):
        table.add_row(*(Text(c.texts[r]) for c in shown))
    if len(df) > view.max_rows:
        table.caption = f"{view.max_rows} of {len(df)} rows shown; use --format csv for all"
    return table, [c.name for c in cols if c not in shown]


def show(table: FrameTable | Table) -> None:
    """Print a table: fitted to the terminal, or at its natural width when piped.

    Numbers are never cut or folded: when the columns do not fit the terminal, whole columns
    are hidden from the right (identity columns never) and a line names them and how to see
    them.
    """
    if not isinstance(table, FrameTable):
        if console.is_terminal:
            console.print(table)
        else:
            natural = Measurement.get(console, console.options.update(width=10_000), table).maximum
            Console(file=console.file, width=max(console.width, natural)).print(table)
        return
    rendered, hidden = _render(table, console.width if console.is_terminal else None)
    needed = _table_width([int(c.width or 0) for c in rendered.columns])
    if needed <= console.width:
        console.print(rendered)
    else:  # piped, or identity columns alone wider than the terminal: never squeezed
        Console(file=console.file, width=needed, force_terminal=console.is_terminal,
                color_system=console.color_system, no_color=console.no_color).print(rendered)  # type: ignore[arg-type]
    if hidden:
        keep = [c for c in map(str, table.frame.columns) if c in IDENTITY_COLUMNS] or [str(table.frame.columns[0])]
        how = table.how.format(columns=",".join(keep + hidden))
        console.print(Text(f"{len(hidden)} column{'s' if len(hidden) > 1 else ''} hidden to fit {console.width} "
                           f"columns: {', '.join(hidden)}. See them with {how}.", style="yellow"),
                      soft_wrap=True)  # not broken inside the --columns list: it can be copied


def _cell_text(v: object) -> str:
    """The text of one table cell: numbers whole, to 6 significant digits (see :func:`_num`);
    missing values blank."""
    if v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and v != v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    return _num(v, sig=6)


_SHOW_COLUMNS = "--columns {columns}, --format csv or a wider terminal"


def int_ids(df: pd.DataFrame) -> pd.DataFrame:
    """Id columns (``id``, ``*_id``, ``*_id_*``) that are float only because of missing
    values become nullable integers (``Int64``), so every format prints them as integers."""
    out = df
    for col in df.columns:
        s = df[col]
        if "id" in str(col).split("_") and pd.api.types.is_float_dtype(s):
            v = s.dropna()
            if bool(np.isfinite(v).all()) and bool((v == np.round(v)).all()) and bool((v.abs() < 2**63).all()):
                if out is df:
                    out = df.copy()
                out[col] = s.astype("Int64")
    return out


def emit(df: pd.DataFrame, fmt: Fmt, out: Path | None, title: str | None = None, how: str = _SHOW_ALL) -> None:
    """Print or write a table in the requested format (atomic when writing a file).

    Ids print as integers in every format; ``how`` tells how to see columns a terminal table
    had to hide (see :func:`show`).
    """
    if fmt is Fmt.parquet and out is None:
        raise typer.BadParameter("--format parquet writes binary data: give --out FILE.parquet", param_hint="--out")
    df = int_ids(df)
    if fmt is Fmt.table and out is None:
        show(_rich_table(df, title, how=how))
        return
    if fmt is Fmt.csv or (fmt is Fmt.table and out is not None):
        text = df.to_csv(index=False)
    elif fmt is Fmt.json:
        text = df.to_json(orient="records", indent=2, default_handler=str)
    else:
        text = None
    if out is None:
        sys.stdout.write(text or "")
        return
    out = Path(out).expanduser()
    _check_out(out)
    _write_out(df, out, text=text, parquet=text is None)


ColumnsOpt = Annotated[str | None, typer.Option(help="Comma-separated columns to show (default: a readable subset for tables, all for files).")]

CONTAINER_COLUMNS = ["id", "targeted_structure", "cre_line", "reporter_line", "imaging_depth", "donor_name", "failed"]
EXPERIMENT_COLUMNS = ["id", "experiment_container_id", "session_type", "targeted_structure", "cre_line",
                      "imaging_depth", "acquisition_age_days", "fail_eye_tracking"]
CELL_COLUMNS = ["cell_specimen_id", "experiment_container_id", "area", "tld1_name", "imaging_depth"]


def select_columns(df: pd.DataFrame, columns: str | None, fmt: Fmt, default: list[str]) -> pd.DataFrame:
    """Keep the user's columns (validated), or a readable default subset for terminal tables."""
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        for c in wanted:
            if c not in df.columns:
                from brainobs.errors import UnknownValueError

                raise UnknownValueError(c, df.columns, kind="column")
        return df[wanted]
    if fmt is Fmt.table:
        return df[[c for c in default if c in df.columns]]
    return df


def _progress_callback(progress: Progress):
    task_ids: dict[str, TaskID] = {}

    def cb(done: int, total: int, description: str) -> None:
        key = "main"
        if key not in task_ids:
            task_ids[key] = progress.add_task(description, total=total)
        progress.update(task_ids[key], completed=done, total=total, description=description)

    return cb


def _make_progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=err_console, transient=False)


def _int_parser(option: str, valid: str):
    """A parser for an integer option whose error names the bad value and what is valid."""

    def parse(text: str) -> int:
        try:
            return int(str(text).strip())
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not an integer; expected {valid}", param_hint=option) from None

    return parse


def _check_out_folder(path: Path, option: str) -> None:
    """Before any work: ``path`` can be a folder this command creates or writes into."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{path} is a file; {option} must be a folder (a new one or an existing folder)",
                                 param_hint=option)
    parent = path.absolute().parent
    if not parent.exists():
        raise typer.BadParameter(f"the folder of {option} does not exist: {parent}; create it first "
                                 f"(mkdir -p {parent}) or choose another {option}", param_hint=option)
    if not parent.is_dir():
        raise typer.BadParameter(f"{parent} is a file, not a folder; {option} must be inside a folder",
                                 param_hint=option)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"the folder {parent} of {option} is not writable", param_hint=option)


def _synthesize(out: Path, size: str, seed: int, config: Path | None, containers: int | None, overwrite: bool,
                option: str = "--out") -> Path:
    from brainobs.synth import generate_observatory

    _check_out_folder(out, option)
    with _make_progress() as progress:
        return generate_observatory(out, size=size, seed=seed, config=config, n_containers=containers,
                                    overwrite=overwrite, progress=_progress_callback(progress))


@app.command(epilog="Example: brainobs demo --area VISp --cre-line Cux2-CreERT2 --out figures")
def demo(
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the figures and summary.json.")] = Path("brainobs-demo"),
    area: Annotated[str | None, typer.Option(help="Visual area, e.g. VISp (default: first with data).")] = None,
    cre_line: Annotated[str | None, typer.Option("--cre-line", help="Cre line, e.g. Cux2-CreERT2.")] = None,
    size: Annotated[Size, typer.Option(help="Size of the synthetic observatory made when the data dir is empty.")] = Size.small,
    metrics: Annotated[bool, typer.Option(help="Compute missing DG/NS metrics of the chosen containers (and store them).")] = True,
) -> None:
    """Run the tutorial story and write its figures.

    Creates a small synthetic observatory in the data dir if there is none, lists Cre
    lines and areas, picks an area and a Cre line with data, lists their containers,
    opens the natural-scenes session and writes the max projection, 10 stacked dF/F
    traces, the preferred-image histogram, the top image and the fraction of
    direction-selective cells into --out. Drifting-grating and natural-scene metrics
    missing from the catalog are computed for the chosen containers and stored.
    """
    from brainobs.demo import run_demo

    root = _resolve_data_dir(data_dir)
    _check_out_folder(out, "--out")  # before any work
    if root.is_file() and not root.name.endswith(".json"):
        raise typer.BadParameter(f"{root} is a file; --data-dir must be a data folder (or its manifest.json)",
                                 param_hint="--data-dir")
    if not (root / "manifest.json").exists() and not (root.is_file() and root.name.endswith(".json")):
        if root.exists() and any(root.iterdir()):
            raise BrainobsError(f"{root} is not empty and holds no manifest.json; choose another --data-dir "
                                "or an empty folder for the synthetic observatory.")
        _check_out_folder(root, "--data-dir")
        err_console.print(f"No observatory in {root}: generating a {size.value} synthetic one (seed 0).")
        _synthesize(root, size.value, 0, None, None, overwrite=root.exists(), option="--data-dir")
    summary = run_demo(root, out, area=area, cre_line=cre_line, log=console.print,
                       show_table=lambda df, title: show(_rich_table(df, title)), compute_metrics=metrics)
    told = ("figures", "comparison", "role_profile")  # told above, in full, by the story
    rows = [(k, json.dumps(v) if isinstance(v, (list, dict)) else str(v))
            for k, v in summary.items() if k not in told]
    show(_rich_table(pd.DataFrame(rows, columns=["item", "value"]), "Summary"))
    for name, path in summary["figures"].items():
        console.print(f"  {name:<18} {path}")
    console.print(f"Wrote {len(summary['figures'])} figures and summary.json to {out}")


@app.command(epilog="Example: brainobs synth --out ~/synthetic-obs --size small --seed 1")
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to create (must not exist or be empty, unless --overwrite).")],
    size: Annotated[Size, typer.Option(help="tiny (tests), small (demo), compare (12 repeats of each grating, for comparing Cre lines) or full (real session length).")] = Size.small,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same observatory.",
                                      parser=_int_parser("--seed", "a non-negative integer such as 0"))] = 0,
    config: Annotated[Path | None, typer.Option(help="TOML file overriding the per-Cre-line tuning distributions.")] = None,
    containers: Annotated[int | None, typer.Option(help="Number of experiment containers (default set by --size).",
                                                   parser=_int_parser("--containers", "a number from 1 to 999"))] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing observatory in --out.")] = False,
) -> None:
    """Write a synthetic observatory with known ground truth.

    The result has the real on-disk layout of an AllenSDK cache dir (manifest.json,
    experiment_containers.json, ophys_experiments.json, cell_specimens.json and one NWB
    1.x file per session under ophys_experiment_data/), plus ground_truth/*.parquet with
    every cell's true tuning. It is written to a temporary folder and renamed at the end, so
    an interrupted or failed run changes nothing; the next run removes the temporary folders
    that killed runs left behind. The folder of --out must exist.
    """
    path = _synthesize(out, size.value, seed, config, containers, overwrite)
    console.print(f"Synthetic observatory written to {path}")


@app.command("cre-lines", epilog="Example: brainobs cre-lines --data-dir ~/allensdk-cache")
def cre_lines(data_dir: DataDir = None, fmt: FormatOpt = Fmt.table, out: OutOpt = None) -> None:
    """List the Cre lines with data, with their numbers of containers and cells."""
    obs = _obs(data_dir)
    emit(_vocab_counts(obs, "cre_line"), fmt, out, "Cre lines")


@app.command(epilog="Example: brainobs areas --format json")
def areas(data_dir: DataDir = None, fmt: FormatOpt = Fmt.table, out: OutOpt = None) -> None:
    """List the visual areas (targeted structures) with data."""
    obs = _obs(data_dir)
    emit(_vocab_counts(obs, "targeted_structure"), fmt, out, "Areas")


def _vocab_counts(obs, column: str) -> pd.DataFrame:
    cont = obs.containers()
    counts = cont.groupby(column).size().rename("containers")
    cells = obs.cells(warn=False)  # counts only: metrics do not matter here
    cell_col = {"cre_line": "tld1_name", "targeted_structure": "area"}[column]
    if len(cells) and cell_col in cells.columns:
        counts = pd.concat([counts, cells.groupby(cell_col).size().rename("cells")], axis=1)
        counts["cells"] = counts["cells"].fillna(0).astype(int)
    df = counts.reset_index().rename(columns={"index": column})
    return df.sort_values(column).reset_index(drop=True)


@app.command(epilog="Example: brainobs containers --area VISp --area VISl --cre-line Rorb-IRES2-Cre --depth 275")
def containers(
    data_dir: DataDir = None,
    area: Annotated[list[str] | None, typer.Option(help="Area(s), e.g. VISp; repeat for several.")] = None,
    cre_line: Annotated[list[str] | None, typer.Option("--cre-line", help="Cre line(s); repeat for several.")] = None,
    depth: Annotated[list[int] | None, typer.Option(help="Imaging depth(s) in µm.",
                                                    parser=_int_parser("--depth", "a depth in µm such as 275"))] = None,
    include_failed: Annotated[bool, typer.Option(help="Also list failed containers.")] = False,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """List experiment containers (one mouse, one field of view, three sessions)."""
    obs = _obs(data_dir)
    df = obs.containers(area=area, cre_line=cre_line, imaging_depth=depth, include_failed=include_failed)
    if df.empty:
        _no_data(obs.explain_empty(area=area, cre_line=cre_line, imaging_depth=depth, include_failed=include_failed))
    df = select_columns(df, columns, fmt, CONTAINER_COLUMNS)
    emit(df, fmt, out, f"{len(df)} containers", how=_SHOW_COLUMNS)


@app.command(epilog="Example: brainobs experiments --container-id 500000000 --stimulus natural_scenes")
def experiments(
    data_dir: DataDir = None,
    container_id: Annotated[list[int] | None, typer.Option(
        "--container-id", "-c", help="Container id(s).",
        parser=_int_parser("--container-id", "a container id such as 511510736 (`brainobs containers` lists them)"))] = None,
    area: Annotated[list[str] | None, typer.Option(help="Area(s).")] = None,
    cre_line: Annotated[list[str] | None, typer.Option("--cre-line", help="Cre line(s).")] = None,
    session_type: Annotated[list[str] | None, typer.Option("--session-type", help="three_session_A, _B, _C or _C2.")] = None,
    stimulus: Annotated[list[str] | None, typer.Option("--stimulus", help="Only sessions showing this stimulus, e.g. natural_scenes.")] = None,
    include_failed: Annotated[bool, typer.Option(help="Include sessions of failed containers.")] = False,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """List ophys experiments (sessions)."""
    obs = _obs(data_dir)
    df = obs.experiments(container_id=container_id, area=area, cre_line=cre_line, session_type=session_type,
                         stimuli=stimulus, include_failed=include_failed)
    if df.empty:
        _no_data(obs.explain_empty(container_id=container_id, area=area, cre_line=cre_line,
                                   session_type=session_type, stimuli=stimulus, include_failed=include_failed))
    df = select_columns(df, columns, fmt, EXPERIMENT_COLUMNS)
    emit(df, fmt, out, f"{len(df)} experiments", how=_SHOW_COLUMNS)


@app.command(epilog="Example: brainobs cells --area VISp --filter 'p_ns < 0.05' --filter 'dsi_dg > 0.5' --columns cell_specimen_id,p_ns,dsi_dg")
def cells(
    data_dir: DataDir = None,
    container_id: Annotated[list[int] | None, typer.Option(
        "--container-id", "-c", help="Container id(s).",
        parser=_int_parser("--container-id", "a container id such as 511510736 (`brainobs containers` lists them)"))] = None,
    area: Annotated[list[str] | None, typer.Option(help="Area(s).")] = None,
    cre_line: Annotated[list[str] | None, typer.Option("--cre-line", help="Cre line(s).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", help="Metric filter such as 'p_ns < 0.05'; repeat to AND.")] = None,
    columns: ColumnsOpt = None,
    include_failed: Annotated[bool, typer.Option(help="Include cells of failed containers.")] = False,
    fmt: FormatOpt = Fmt.table,
    out: OutOpt = None,
) -> None:
    """List cells with their metric columns; filter with e.g. --filter 'p_ns < 0.05'.

    When containers of the selection have no computed metrics (so a metric filter cannot
    match their cells), a yellow "note:" line on stderr says how many and the
    `brainobs analyze --missing ...` command that computes them; the exit status stays 0.
    """
    obs = _obs(data_dir)
    sel = obs.select_cells(container_id=container_id, area=area, cre_line=cre_line, filters=filter_,
                           include_failed=include_failed)
    df = sel.cells
    if df.empty:
        _no_data(obs.explain_empty(container_id=container_id, area=area, cre_line=cre_line, filters=filter_,
                                   include_failed=include_failed))
    extra = [c for c in ("p_dg", "dsi_dg", "p_ns", "pref_image_ns") if c in df.columns and df[c].notna().any()]
    df = select_columns(df, columns, fmt, CELL_COLUMNS + extra)
    emit(df, fmt, out, f"{len(df)} cells", how=_SHOW_COLUMNS)
    if sel.missing is not None:
        note(sel.missing.message)


def _no_data(reason: str | None) -> None:
    """A selection whose choices have no data together: an error saying which have data
    (an empty table for other reasons, e.g. a metric filter nothing passes, is a fine answer)."""
    if reason is not None:
        from brainobs.errors import NoDataError

        raise NoDataError(reason)


def note(message: str) -> None:
    """Print one yellow ``note:`` line on stderr (never wrapped; the text is not markup)."""
    text = Text("note: ", style="bold yellow")
    text.append(message)
    err_console.print(text, soft_wrap=True, highlight=False)


@app.command(epilog="Example: brainobs session 500000002   ·   brainobs session ophys_experiment_data/500000002.nwb --format json"
              "   ·   brainobs session 500000002 --stream   ·   brainobs session https://HOST/visual-coding-2p/ophys_experiment_data/500000002.nwb")
def session(
    target: Annotated[str, typer.Argument(metavar="ID|FILE.nwb|URL", help="An ophys experiment id from the catalog, a path to an NWB file, or an http(s) URL of one (streamed).")],
    data_dir: DataDir = None,
    fmt: FormatOpt = Fmt.table,
    stream: Annotated[bool, typer.Option("--stream", help="With an ID: stream the file over HTTP range requests from --source instead of reading the data dir.")] = False,
    source: Annotated[str | None, typer.Option("--source", help="Base URL of the session files for --stream (default: $BRAINOBS_SOURCE, else the public bucket).", show_default=False)] = None,
) -> None:
    """Summarise one session: metadata, stimuli, cells and frames."""
    from brainobs.io import Session
    from brainobs.io.remote import is_url

    target = target.strip()
    if (stream or source is not None) and not target.isdigit():
        raise typer.BadParameter("--stream and --source go with an ophys experiment id; a path or URL is read as given",
                                 param_hint="--stream")
    if source is not None and not stream:
        raise typer.BadParameter("--source is used only with --stream", param_hint="--source")
    if source is not None and not is_url(source):
        raise typer.BadParameter(f"{source!r} is not an http:// or https:// base URL", param_hint="--source")
    if is_url(target):
        s = Session(target)
    elif target.isdigit():
        obs = _obs(data_dir)
        ids = obs.experiments(include_failed=True)["id"]
        if int(target) not in set(ids.tolist()):
            from brainobs.errors import UnknownIdError

            hint = (f"The catalog has {len(ids)} experiments, ids {ids.min()} to {ids.max()}; list them with "
                    "`brainobs experiments`." if len(ids) else "The catalog has no experiments.")
            raise UnknownIdError("ophys experiment", [target], where=f"the catalog of {obs.data_dir}", valid=hint)
        s = obs.session(int(target), stream=stream, source=source)
    elif not target or (not Path(target).exists() and not target.lower().endswith((".nwb", ".h5"))):
        raise typer.BadParameter(f"{target!r} is neither an ophys experiment id (an integer such as 500000002) "
                                 "nor an existing NWB file", param_hint="ID|FILE.nwb")
    else:
        s = Session(Path(target))
    with s:
        meta = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in s.metadata.items()}
        meta.update(n_cells=s.n_cells, n_frames=s.n_frames, frame_rate_hz=round(s.frame_rate, 3),
                    duration_s=round(float(s.timestamps[-1] - s.timestamps[0]), 1))
        rows = []
        for name in s.list_stimuli():
            t = s.stimulus_table(name)
            rows.append({"stimulus": name, "presentations": len(t),
                         "first_start_s": round(float(t["start_time"].min()), 2) if len(t) else None,
                         "last_end_s": round(float(t["end_time"].max()), 2) if len(t) else None})
        stim = pd.DataFrame(rows)
        if fmt is Fmt.json:
            sys.stdout.write(json.dumps({"metadata": meta, "stimuli": rows}, indent=2, default=str) + "\n")
        elif fmt is Fmt.csv:
            sys.stdout.write(pd.DataFrame(list(meta.items()), columns=["field", "value"]).to_csv(index=False))
            sys.stdout.write("\n" + stim.to_csv(index=False))
        elif fmt is Fmt.parquet:
            raise typer.BadParameter("session prints a summary; use --format table, csv or json", param_hint="--format")
        else:
            show(_rich_table(pd.DataFrame([(k, str(v)) for k, v in meta.items()], columns=["field", "value"]),
                                      f"Session {s.ophys_experiment_id}"))
            show(_rich_table(stim, "Stimuli"))


def _check_out(out: Path) -> None:
    """Fail before any work when ``--out`` cannot be written (a failed command changes nothing)."""
    from brainobs.catalog.store import clean_temp_files, temp_path
    from brainobs.errors import OutputPathError

    folder = out.parent
    if out.is_dir():
        raise OutputPathError(f"--out {out} is a folder; give a file path such as {out / ('cells' + out.suffix)}")
    if not folder.exists():
        raise OutputPathError(f"--out {out}: the folder {folder} does not exist; create it first")
    if not folder.is_dir():
        raise OutputPathError(f"--out {out}: {folder} is not a folder")
    probe = temp_path(out)
    try:
        with open(probe, "xb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise OutputPathError(f"--out {out}: cannot write in the folder {folder} ({exc.strerror or exc})") from exc
    clean_temp_files(folder, out.name)  # temporary files of killed earlier runs


def _checked_out(path: Path | None) -> Path | None:
    """The --out of a table command, checked when parsed (before any work)."""
    if path is not None:
        path = Path(path).expanduser()
        _check_out(path)
    return path


def _write_out(df: pd.DataFrame, out: Path, text: str | None = None, parquet: bool | None = None) -> None:
    """Write ``df`` to ``out`` atomically; errors name ``out``.

    ``text`` (csv/json already rendered) is written as is; otherwise Parquet when ``parquet``
    (default: when ``out`` ends in .parquet), else CSV.
    """
    from brainobs.catalog.store import write_atomic
    from brainobs.errors import OutputPathError

    def write(tmp: Path) -> None:
        if text is not None:
            tmp.write_text(text)
        elif parquet or (parquet is None and out.suffix.lower() == ".parquet"):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)

    try:
        write_atomic(out, write)
    except OSError as exc:
        raise OutputPathError(f"cannot write --out {out}: {exc.strerror or exc}; nothing was written "
                              "or stored") from exc
    err_console.print(f"wrote {len(df)} rows to {out}")


@app.command(epilog="Examples: brainobs analyze 500000001 500000002 --out cells.parquet   ·   "
                     "brainobs analyze --container 500000000   ·   brainobs analyze session.nwb --out m.csv   ·   "
                     "brainobs analyze --missing --cre-line Vip-IRES-Cre --family natural_scenes")
def analyze(
    targets: Annotated[list[str] | None, typer.Argument(metavar="EXPERIMENT_ID|FILE.nwb ...",
                                                        help="Sessions: catalog experiment ids or NWB files.")] = None,
    container: Annotated[list[int] | None, typer.Option(
        "--container", "-c", help="Analyze every session of a container (repeatable).",
        parser=_int_parser("--container", "a container id such as 511510736 (`brainobs containers` lists them)"))] = None,
    missing: Annotated[bool, typer.Option(
        "--missing", help="Compute and store the metrics that non-failed containers lack (those of --area/--cre-line, "
                          "default all), container by container; complete ones and those whose files are not on "
                          "disk are skipped. Not with ids, files or --container.")] = False,
    all_: Annotated[bool, typer.Option(
        "--all", help="Analyze every selected container (--area/--cre-line/--session-type, default the whole "
                      "catalog) on Dask distributed, incrementally: containers already analyzed with the same code "
                      "version, parameters and input files (size + mtime) are skipped; a killed run resumes. "
                      "Not with ids, files or --container.")] = False,
    area: Annotated[list[str] | None, typer.Option(help="With --missing/--all: only containers of these area(s).")] = None,
    cre_line: Annotated[list[str] | None, typer.Option("--cre-line", help="With --missing/--all: only containers of these Cre line(s).")] = None,
    session_type: Annotated[list[str] | None, typer.Option(
        "--session-type", help="With --all: only containers with a session of this type, and only the families it "
                               "shows (repeatable).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", "-j", min=1, help="With --all: worker processes of the local Dask cluster (1 thread each); "
                                       "1 runs serially without Dask. Default: the number of CPUs.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="With --all: run on this running Dask scheduler (tcp://HOST:PORT) instead of a local "
                            "cluster; its workers must see the data dir under the same path.")] = None,
    memory_limit: Annotated[str, typer.Option(
        "--memory-limit", help="With --all: memory limit per local worker, e.g. 2GiB (auto: memory / workers).")] = "auto",
    data_dir: DataDir = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the table to FILE.parquet or FILE.csv.")] = None,
    store: Annotated[bool, typer.Option(help="Store the results of catalog sessions in the catalog (cells --filter then sees them).")] = True,
    store_dir: Annotated[Path | None, typer.Option(
        "--store-dir", help="Keep the catalog store (computed metrics) in this folder instead of DATA_DIR/.brainobs, "
                            "e.g. for a read-only data dir; other commands find it through $BRAINOBS_STORE.",
        show_default=False)] = None,
    family: Annotated[list[str] | None, typer.Option(
        "--family", help="Only these metric families: drifting_gratings, static_gratings, natural_scenes, "
                         "natural_movies, locally_sparse_noise (repeatable).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the receptive-field shuffle test.")] = 1,
    n_shuffles: Annotated[int, typer.Option("--n-shuffles", help="Shuffles of the receptive-field test.")] = 10_000,
) -> None:
    """Compute the cell-table metrics (AllenSDK's published columns) of sessions or containers.

    One row per cell: cell_specimen_id plus pref_dir_dg, dsi_dg, p_dg, ..., p_ns,
    pref_image_ns, ..., rf_*_lsn, reliability_nm*. Container results merge the three
    sessions like the published table (reliability_nm1_a/_b/_c). Results of catalog
    sessions are stored in the catalog unless --no-store. The output file and the store
    are checked before any computation; with --out, the catalog is updated only once the
    file is written.

    With --missing, every selected container that lacks metrics (of the --family
    families, default all) is analyzed for the families it lacks and stored, with a
    progress bar, and a summary table lists the containers done, skipped (complete, or
    session files not on disk) and failed (with the reason). A failing container (e.g. a
    corrupt file) does not stop the others. Exit status: 0 when no container failed, 1 when
    some failed, 2 for a usage error.

    With --all, every selected container is analyzed on Dask distributed (a local cluster
    of --workers processes, or a running --scheduler; --workers 1 runs serially), skipping
    those already analyzed with the same code version, parameters and input files; the
    summary and exit status are as for --missing.
    """
    from brainobs.errors import UnknownValueError
    from brainobs.io import Session
    from brainobs.metrics import FAMILIES, analyze_catalog_container, publishable, session_letter
    from brainobs.metrics import analyze as analyze_session

    for f in family or []:
        if f not in FAMILIES:
            raise UnknownValueError(f, FAMILIES, kind="metric family")
    if all_:
        _check_all_options(targets, container, missing, out, store, workers, scheduler)
        obs = _obs(data_dir, store_dir)
        obs.check_store()
        _analyze_all(obs, area, cre_line, session_type, family, seed, n_shuffles, workers, scheduler, memory_limit)
        return
    if session_type or workers is not None or scheduler is not None:
        raise typer.BadParameter("--session-type, --workers and --scheduler go with --all",
                                 param_hint="--session-type/--workers/--scheduler")
    if missing:
        if targets or container:
            raise typer.BadParameter(
                "--missing chooses the containers itself (all, or those of --area/--cre-line); it cannot be "
                "combined with experiment ids, NWB files or --container", param_hint="--missing")
        if out is not None:
            raise typer.BadParameter("--missing stores the metrics in the catalog; export them afterwards with "
                                     "`brainobs cells --format csv --out FILE`", param_hint="--out")
        if not store:
            raise typer.BadParameter("--missing always stores the metrics in the catalog", param_hint="--no-store")
        obs = _obs(data_dir, store_dir)
        obs.check_store()
        _analyze_missing(obs, area, cre_line, family, seed, n_shuffles)
        return
    if area or cre_line:
        raise typer.BadParameter("--area and --cre-line select containers for --missing; "
                                 "add --missing (or give --container ID)", param_hint="--area/--cre-line")
    if not targets and not container:
        raise typer.BadParameter("give experiment ids / NWB files, --container ID, or --missing", param_hint="TARGETS")
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        raise typer.BadParameter(f"--out must end in .parquet or .csv; got {out.name!r}", param_hint="--out")
    if out is not None:
        _check_out(out)
    need_catalog = bool(container) or any(t.isdigit() for t in targets or [])
    obs = _obs(data_dir, store_dir) if need_catalog else None
    _check_container_families(obs, container, family)
    if store and obs is not None:
        obs.check_store()
    # With --out the catalog is updated only after the file is written (a failed command
    # changes nothing); without it, each session/container is stored as soon as it is done.
    later: list[pd.DataFrame] = []

    def keep(cells: pd.DataFrame) -> None:
        if out is None:
            obs.save_cells(cells)
        else:
            later.append(cells)

    tables = []
    with _make_progress() as progress:
        for t in targets or []:
            task = progress.add_task(f"session {t}", total=1)
            s = obs.session(int(t)) if (t.isdigit() and obs is not None) else Session(Path(t))
            with s:  # a --family the session does not show is an error (FamilyNotShownError)
                session_letter(s.session_type, s.path.name)  # a file without one: a clear error first
                table = publishable(analyze_session(s, families=family or None, seed=seed, n_shuffles=n_shuffles),
                                    str(s.session_type))
            if store and t.isdigit() and obs is not None:
                keep(table.drop(columns=["experiment_container_id"], errors="ignore").reset_index())
            tables.append(table)
            progress.update(task, completed=1, description=f"session {t}: {len(table)} cells")
        for cid in container or []:
            cb = _progress_callback(progress)
            table = analyze_catalog_container(obs, cid, store=False, families=family or None, seed=seed,
                                              n_shuffles=n_shuffles, progress=cb, strict=True)
            if store:  # the container id is already in the cell table: store the metrics only
                keep(table.drop(columns="experiment_container_id").reset_index())
            tables.append(table)
    _print_qc_note(tables)
    # One row per cell: the sessions of one container give different columns of the same cells.
    result = pd.concat(tables).groupby(level="cell_specimen_id", sort=False).first().reset_index()
    if out is not None:
        _write_out(result, out)
        for cells in later:
            obs.save_cells(cells)
    else:
        cols = ["cell_specimen_id", "experiment_container_id"] + [
            c for c in ("pref_dir_dg", "dsi_dg", "p_dg", "pref_image_ns", "p_ns", "rf_chi2_lsn") if c in result.columns]
        show(_rich_table(result[[c for c in cols if c in result.columns]], f"{len(result)} cells analyzed"))
    if store and obs is not None:
        where = f" (store {obs.store_root})" if obs.store_external else ""
        err_console.print(f"stored in the catalog of {obs.data_dir}{where}")


def _check_container_families(obs, containers: list[int] | None, family: list[str] | None) -> None:
    """Before any work: every --family must be shown by some session of every --container."""
    if not family or not containers:
        return
    from brainobs import vocab
    from brainobs.metrics import check_families_shown

    for cid in containers:
        types = obs.experiments(container_id=int(cid), include_failed=True)["session_type"].astype(str).tolist()
        stimuli = sorted({x for t in types for x in vocab.SESSION_STIMULI.get(t, ())})
        check_families_shown(family, stimuli, f"container {cid} (sessions {', '.join(types)})")


def _print_qc_note(tables: list[pd.DataFrame]) -> None:
    """One line on stderr naming the cells and trials the metrics left out (``attrs["qc"]``)."""
    from brainobs.metrics import qc_note

    note = qc_note(tables)
    if note:
        err_console.print(f"[yellow]note:[/] {note.removeprefix('note: ')}", highlight=False, soft_wrap=True)


class CmpFmt(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _column_map(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    pairs = {}
    for item in text.split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise typer.BadParameter(f"expected old=new pairs separated by commas; got {item!r}",
                                     param_hint="--column-map")
        old, new = (x.strip() for x in item.split("=", 1))
        pairs[old] = new
    return pairs


def _read_cells_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"--cells: no such file: {path}")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
        return pd.read_csv(path, sep="\t" if ".tsv" in name else ",")
    raise typer.BadParameter(f"--cells must be a .csv, .csv.gz, .tsv or .parquet file; got {path.name!r}",
                             param_hint="--cells")


def _num(v: object, sig: int | None = None) -> str:
    """A number for the terminal: never cut; p-values keep their exponent.

    ``sig=None``: compact (4 significant digits, 3 in scientific notation), for ``compare``;
    else ``sig`` significant digits (``:g``), for the tables of every other command.
    """
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        if sig is not None:
            return f"{f:.{sig}g}"
        return f"{f:.4g}" if 1e-3 <= abs(f) < 1e6 else f"{f:.2e}"
    return str(v)


def _ci_text(lo: object, hi: object, fmt=None) -> str:
    f = fmt or _num
    return "–" if _num(lo) == "–" else f"{f(lo)} to {f(hi)}"


def _effect(v: object) -> str:
    """Effect sizes (δ, Δ fraction) in [-1, 1]: three decimals."""
    return "–" if _num(v) == "–" else f"{float(v):+.3f}"  # type: ignore[arg-type]


def _print_comparison(res) -> None:
    """Groups, omnibus test and pairwise tests, compact enough for an 80-column terminal:
    numbers are never cut (raw p-values and means are in --format csv/json)."""
    from rich import box

    frac = res.kind == "fraction"
    table = Table(title=f"{res.metric} by {' × '.join(res.by)}: {res.population}",
                  header_style="bold", title_justify="left", box=box.SIMPLE_HEAD,
                   pad_edge=False)
    width = max(len(str(g)) for g in res.groups["group"])
    table.add_column("group", min_width=min(width, 40), overflow="fold")
    for c in ("cells", "containers", "mice", "fraction" if frac else "median", "95 % CI"):
        table.add_column(c, justify="right", overflow="fold")  # wraps, never crops
    for r in res.groups.itertuples(index=False):
        value = r.fraction if frac else r.median
        table.add_row(str(r.group), _num(r.n_cells), _num(r.n_containers), _num(r.n_mice),
                      _num(value), _ci_text(r.ci_low, r.ci_high))
    table.caption = f"intervals: {res.interval_method}"
    console.print(table)
    console.print(f"omnibus: {res.omnibus_text()}", highlight=False)
    if len(res.pairwise):
        eff = "Δ" if frac else "δ"
        words = "Δ = difference in fraction" if frac else "δ = Cliff's delta"
        pw = Table(title=f"pairwise {res.pairwise['test'].iloc[0]}, Holm-corrected p; {words} (a vs b)",
                   header_style="bold", title_justify="left", box=box.SIMPLE_HEAD,
                   pad_edge=False)
        wa = max(len(str(g)) for g in res.pairwise["group_a"])
        wb = max(len(str(g)) for g in res.pairwise["group_b"])
        pw.add_column("a", min_width=min(wa, 40), overflow="fold")
        pw.add_column("b", min_width=min(wb, 40), overflow="fold")
        for c in ("p Holm", eff, "95 % CI"):
            pw.add_column(c, justify="right", overflow="fold")  # wraps, never crops
        for r in res.pairwise.itertuples(index=False):
            pw.add_row(str(r.group_a), str(r.group_b), _num(r.p_holm) + (" *" if r.significant else "  "),
                       _effect(r.effect_value), _ci_text(r.effect_ci_low, r.effect_ci_high, _effect))
        pw.caption = (f"* Holm-corrected p < {res.alpha:g}; raw p-values: --format csv or json; "
                      "intervals are not adjusted for multiplicity")
        console.print(pw)
    for note in res.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)


@app.command(epilog="Examples: brainobs compare --metric g_osi_dg --by cre_line --area VISp   ·   "
                     "brainobs compare --metric 'p_dg < 0.05' --by cre_line,area --format json   ·   "
                     "brainobs compare --cells swdb_dg_table.csv --metric responsive_dg --by cre_line")
def compare(
    metric: Annotated[str, typer.Option("--metric", "-m", help="A metric column (g_osi_dg) or a boolean expression ('p_dg < 0.05', 'p_dg < 0.05 and dsi_dg > 0.5').")],
    by: Annotated[str, typer.Option(help="Grouping column(s), comma-separated: cre_line, area, layer, or any column.")] = "cre_line",
    data_dir: DataDir = None,
    area: Annotated[list[str] | None, typer.Option(help="Only these areas (repeatable).")] = None,
    cre_line: Annotated[list[str] | None, typer.Option("--cre-line", help="Only these Cre lines (repeatable).")] = None,
    responsive_only: Annotated[bool | None, typer.Option(
        "--responsive-only/--all-cells",
        help="Summarise only cells responsive to the metric's stimulus (default: yes for selectivity/preference metrics, no for p-values and expressions).",
        show_default=False)] = None,
    rule: Annotated[str, typer.Option(help="Responsiveness rule: auto, p (p < 0.05), trials (de Vries analogue), given (the table's responsive_* columns).")] = "auto",
    cells: Annotated[Path | None, typer.Option("--cells", help="An external cell table (CSV/Parquet) instead of the catalog; published column names are recognised.")] = None,
    column_map: Annotated[str | None, typer.Option("--column-map", help="Rename columns of --cells first: old=new,old2=new2.")] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates of the intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 0,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw the comparison into this PNG/SVG/PDF file.")] = None,
    fmt: Annotated[CmpFmt, typer.Option("--format", "-f", help="table (readable), csv (groups, omnibus, pairwise blocks) or json.")] = CmpFmt.table,
    out: OutOpt = None,
) -> None:
    """Compare a metric across Cre lines, areas or layers, with tests a reviewer accepts.

    One row per group (n_cells, n_containers, n_mice, median or fraction with a 95 %
    interval — hierarchical bootstrap over containers, then cells, when containers are
    known), the omnibus test (Kruskal-Wallis or chi-square) and pairwise tests
    (Mann-Whitney U or Fisher exact) with raw and Holm-corrected p-values and effect sizes
    (Cliff's delta or difference in fractions) with intervals.
    """
    from brainobs.population import cell_table, from_table
    from brainobs.population import compare as run_compare

    keys = [b.strip() for b in by.split(",") if b.strip()]
    if cells is not None:
        from brainobs._validate import check_choices
        from brainobs.errors import UnknownAreaError, UnknownCreLineError
        from brainobs.vocab import AREA_ALIASES

        table = from_table(_read_cells_file(cells), _column_map(column_map))
        for col, wanted, err in (("area", area, UnknownAreaError), ("cre_line", cre_line, UnknownCreLineError)):
            if wanted:  # validated against the table's own values (closest-match errors, aliases, short names)
                chosen = check_choices(wanted, sorted(map(str, table[col].dropna().unique())), err, col,
                                       aliases=AREA_ALIASES if col == "area" else None, prefixes=col == "cre_line")
                table = table[table[col].isin(chosen or [])]
    else:
        if column_map:
            raise typer.BadParameter("--column-map applies to --cells tables only", param_hint="--column-map")
        table = cell_table(_obs(data_dir), area=area, cre_line=cre_line)
    res = run_compare(table, metric, keys, responsive_only=responsive_only, rule=rule, n_boot=n_boot,
                      seed=seed)
    if plot is not None:
        _plot_comparison(res, table, plot)
    if fmt is CmpFmt.json:
        text = json.dumps(res.to_dict(), indent=2) + "\n"
    elif fmt is CmpFmt.csv:
        omni = pd.DataFrame([res.omnibus])
        text = "\n".join(df.to_csv(index=False) for df in (res.groups, omni, res.pairwise))
    else:
        if out is not None:
            raise typer.BadParameter("--out needs --format csv or json", param_hint="--out")
        _print_comparison(res)
        return
    if out is None:
        sys.stdout.write(text)
        for note in res.notes:
            err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    else:
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, out)
        err_console.print(f"wrote {out}")


def _plot_comparison(res, table: pd.DataFrame, path: Path) -> None:
    from brainobs.report.figures import comparison_figure

    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise typer.BadParameter(f"--plot must end in .png, .svg or .pdf; got {path.name!r}", param_hint="--plot")
    fig = comparison_figure(res, table)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
    err_console.print(f"wrote {path}")


@app.command(epilog="Examples: brainobs report --area VISp --cre-line Rorb-IRES2-Cre --out rorb.html   ·   "
                     "brainobs report --no-decoding --no-compute-missing")
def report(
    area: Annotated[str | None, typer.Option(help="Visual area, e.g. VISp (default: the tutorial's choice or the first with data).")] = None,
    cre_line: Annotated[str | None, typer.Option("--cre-line", help="Cre line, e.g. Rorb-IRES2-Cre.")] = None,
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write (self-contained: figures embedded).")] = Path("report.html"),
    compute_missing: Annotated[bool, typer.Option(help="First compute and store the metrics missing in the area and for the Cre line (brainobs analyze --missing).")] = True,
    family: Annotated[list[str] | None, typer.Option("--family", help="Metric families to compute when missing (default: drifting_gratings, natural_scenes).")] = None,
    decoding: Annotated[bool, typer.Option(help="Decode natural scenes and grating direction from single trials (a few sessions per Cre line).")] = True,
    rule: Annotated[str, typer.Option(help="Responsiveness rule: auto, p, trials or given.")] = "auto",
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates of every interval.")] = 1000,
) -> None:
    """Write the "what are those cells doing?" HTML report for one area × Cre line.

    The tutorial story for the choice (data, a session, its cells, their preferred images,
    direction selectivity), then the comparison with the other Cre lines of the area and the
    other areas of the Cre line (tests, effect sizes, functional classes, decoding), the role
    profile and the coverage behind every number. Metrics already stored are reused.
    """
    from brainobs.report import build_report

    if out.suffix.lower() not in (".html", ".htm"):
        raise typer.BadParameter(f"--out must end in .html; got {out.name!r}", param_hint="--out")
    if out.is_dir():
        raise typer.BadParameter(f"{out} is a folder; --out must be an HTML file, e.g. {out / 'report.html'}",
                                 param_hint="--out")
    if not out.parent.exists():
        raise typer.BadParameter(f"the folder of --out does not exist: {out.parent}", param_hint="--out")
    if not os.access(out.absolute().parent, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"the folder {out.parent} of --out is not writable", param_hint="--out")
    obs = _obs(data_dir)
    from brainobs.report.story import choose_area_and_cre_line

    area, cre_line = choose_area_and_cre_line(obs, area, cre_line)
    with _make_progress() as progress:
        if compute_missing:
            _compute_missing_for_report(obs, area, cre_line, family, progress)
        task = progress.add_task(f"report {cre_line} in {area}", total=8)

        def cb(done: int, total: int, text: str) -> None:
            progress.update(task, completed=done, total=total, description=f"report: {text}")

        rep = build_report(obs, area, cre_line, rule=rule, n_boot=n_boot, decoding=decoding, progress=cb)
    rep.save(out)
    for sentence in rep.meta.get("profile_sentences", []):
        console.print(sentence, highlight=False)
    console.print(f"Wrote {out}")


def _compute_missing_for_report(obs, area: str, cre_line: str, family: list[str] | None, progress: Progress) -> None:
    from brainobs.parallel import analyze_missing

    families = family or ["drifting_gratings", "natural_scenes"]
    for scope_area, scope_cre in ((area, None), (None, cre_line)):
        rep = analyze_missing(obs, area=scope_area, cre_line=scope_cre, families=families,
                              progress=_progress_callback(progress))
        for failure in rep.failed:
            err_console.print(f"[yellow]note:[/] container {failure.container_id} could not be "
                              f"analyzed: {failure.reason}", highlight=False)


def _analyze_missing(obs, area: list[str] | None, cre_line: list[str] | None, family: list[str] | None,
                     seed: int, n_shuffles: int) -> None:
    """`brainobs analyze --missing`: progress bar, summary table, exit 1 when a container failed."""
    from brainobs.parallel import analyze_missing

    with _make_progress() as progress:
        report = analyze_missing(obs, area=area, cre_line=cre_line, families=family or None, seed=seed,
                                 n_shuffles=n_shuffles, progress=_progress_callback(progress))
    _print_report(obs, report)


# ------------------------------------------------------------------------------ download

_WHAT = ("nwb", "metadata")
# The catalog files a selection needs (the cell table is not needed to choose sessions).
_SELECTION_FILES = ("manifest.json", "experiment_containers.json", "ophys_experiments.json")


def _parse_what(text: str) -> set[str]:
    from brainobs.errors import UnknownValueError

    parts = {p.strip().lower() for p in str(text).split(",") if p.strip()}
    for p in sorted(parts):
        if p not in _WHAT:
            raise UnknownValueError(p, _WHAT, kind="--what part")
    if not parts:
        raise UnknownValueError(text, _WHAT, kind="--what part")
    return parts


def _jobs_parser(text: str) -> int:
    jobs = _int_parser("--jobs", "a number of files fetched at once, 1 or more")(text)
    if jobs < 1:
        raise typer.BadParameter(f"{jobs} is not allowed; expected a number of files fetched at once, "
                                 "1 or more (e.g. --jobs 4)", param_hint="--jobs")
    return jobs


def _size_text(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def _download_progress(progress: Progress, total: int):
    """A ``progress(key, done, total)`` callback: one bar per file and one for all bytes."""
    import threading

    lock = threading.Lock()
    tasks: dict[str, TaskID] = {}
    done_by_key: dict[str, int] = {}
    overall = progress.add_task("total", total=total or None)

    def cb(key: str, done: int, size: int) -> None:
        with lock:
            if key not in tasks:
                tasks[key] = progress.add_task(key, total=size)
            done_by_key[key] = done
            progress.update(tasks[key], completed=done, total=size, visible=done < size)
            progress.update(overall, completed=sum(done_by_key.values()))

    return cb


def _fetch(files: list, data_dir: Path, source: str, jobs: int, timeout: float, retries: int, what: str):
    """Download ``files`` (planned entries) with progress bars; returns the report."""
    from brainobs.fetch import download as fetch_download

    todo = sum(f.size or 0 for f in files if f.state == "missing")
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True) as progress:
        report = fetch_download(files, data_dir, source, jobs=jobs, timeout=timeout, retries=retries,
                                progress=_download_progress(progress, todo))
    got, present = report.of("downloaded"), report.of("present")
    err_console.print(f"{what}: {len(got)} downloaded ({_size_text(report.bytes_downloaded)}), "
                      f"{len(present)} already present and verified, {len(report.failed)} failed.",
                      highlight=False)
    return report


def _print_plan(files: list, title: str) -> None:
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for col in ("file", "size", "state"):
        table.add_column(col, justify="right" if col == "size" else "left")
    for f in files:
        table.add_row(f.key, _size_text(f.size), f.state if f.error is None else f"{f.state}: {f.error}")
    console.print(table, soft_wrap=True)


@app.command(epilog="Examples: brainobs download --area VISp --cre-line Cux2-CreERT2 --session-type three_session_B "
                    "--dry-run  ·  brainobs download --container 511510736 --jobs 4 -d ~/allen  ·  "
                    "brainobs download --what metadata  ·  brainobs download --source http://127.0.0.1:8000/visual-coding-2p/ ...")
def download(
    data_dir: DataDir = None,
    area: Annotated[list[str] | None, typer.Option(help="Area(s), e.g. VISp; repeat for several.")] = None,
    cre_line: Annotated[list[str] | None, typer.Option("--cre-line", help="Cre line(s); repeat for several.")] = None,
    container: Annotated[list[int] | None, typer.Option(
        "--container", "-c", help="Container id(s); repeat for several.",
        parser=_int_parser("--container", "a container id such as 511510736"))] = None,
    session_type: Annotated[list[str] | None, typer.Option("--session-type", help="three_session_A, _B, _C or _C2.")] = None,
    all_sessions: Annotated[bool, typer.Option("--all", help="Every session of the catalog (without a selection, "
                                                             "only the catalog files are fetched).")] = False,
    what: Annotated[str, typer.Option("--what", help="What to fetch: nwb, metadata or nwb,metadata.")] = "nwb,metadata",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the files and their total size; fetch nothing.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Files fetched at once.", parser=_jobs_parser)] = 4,
    source: Annotated[str | None, typer.Option(
        "--source", help="URL of the data (a mirror with the bucket layout); default $BRAINOBS_SOURCE or the "
                         "public bucket https://allen-brain-observatory.s3.amazonaws.com/visual-coding-2p/.",
        show_default=False)] = None,
    timeout: Annotated[float, typer.Option(help="Seconds without data before a transfer is retried.")] = 60.0,
    retries: Annotated[int, typer.Option(help="Retries per file (exponential backoff).")] = 5,
) -> None:
    """Download the real data (catalog files and session NWB files) into the data dir.

    Transfers resume where they broke off, each file is verified (size, and the MD5 the
    server gives) before it is renamed into place, and a rerun fetches only what is
    missing. Exit status 1 when some files failed (they are listed; rerun to resume).
    """
    import tempfile

    from brainobs.catalog import open_observatory
    from brainobs.fetch import METADATA_FILES, nwb_key, resolve_source
    from brainobs.fetch import plan as fetch_plan

    src = resolve_source(source)
    parts = _parse_what(what)
    dest = _resolve_data_dir(data_dir)
    _check_out_folder(dest, "--data-dir")
    selection = bool(area or cre_line or container or session_type)
    if "nwb" in parts and not (selection or all_sessions):
        if parts == {"nwb"}:
            raise typer.BadParameter("choose the sessions: --area, --cre-line, --container, --session-type "
                                     "or --all (every session, about 1,500 files)", param_hint="--what nwb")
        note("no selection given: fetching the catalog files only; choose sessions with --area, --cre-line, "
             "--container, --session-type, or --all for every session.")
        parts = {"metadata"}
    failed: list = []
    kw: dict[str, Any] = dict(jobs=jobs, timeout=timeout, retries=retries)
    meta = list(METADATA_FILES)
    if "metadata" in parts:
        files = fetch_plan(meta, dest, src, **kw)
        if dry_run:
            _print_plan(files, "catalog files")
        else:
            failed += _fetch(files, dest, src, jobs, timeout, retries, "catalog files").failed
    if "nwb" not in parts:
        _download_failures(failed)
        return
    if failed and not (dest / _SELECTION_FILES[1]).is_file():
        _download_failures(failed)  # no catalog to choose the sessions from
    with tempfile.TemporaryDirectory(prefix="brainobs-download-") as scratch:
        catalog_dir = dest
        if not (dest / _SELECTION_FILES[1]).is_file():
            # the selection needs the catalog files: a dry run fetches them aside, a real run
            # into the data dir (where the catalog needs them to show the sessions)
            catalog_dir = Path(scratch) if dry_run else dest
            rep = _fetch(fetch_plan(_SELECTION_FILES, catalog_dir, src, **kw), catalog_dir, src, jobs, timeout,
                         retries, "catalog files (into a temporary folder, to choose the sessions)" if dry_run
                         else "catalog files")
            _download_failures(failed + rep.failed)
        obs = open_observatory(catalog_dir)
        df = obs.experiments(container_id=container, area=area, cre_line=cre_line, session_type=session_type)
        if df.empty:
            _no_data(obs.explain_empty(container_id=container, area=area, cre_line=cre_line,
                                       session_type=session_type))
            raise _nodata_error("no sessions match the selection")
        keys = [nwb_key(i) for i in df["id"]]
        files = fetch_plan(keys, dest, src, **kw)
    total = sum(f.size or 0 for f in files)
    todo = [f for f in files if f.state == "missing"]
    err_console.print(f"{len(files)} session files ({_size_text(total)}): {len(files) - len(todo)} present, "
                      f"{len(todo)} to fetch ({_size_text(sum(f.size or 0 for f in todo))}).", highlight=False)
    if dry_run:
        _print_plan(files, f"{len(files)} session files, {_size_text(total)} in total")
        bad = [f for f in files if f.state == "failed"]
        if bad:
            _download_failures(bad)
        return
    failed += _fetch(files, dest, src, jobs, timeout, retries, "session files").failed
    _download_failures(failed)


def _nodata_error(message: str) -> Exception:
    from brainobs.errors import NoDataError

    return NoDataError(message)


def _download_failures(failed: list) -> None:
    """List the files that failed (one line each) and exit with status 1."""
    if not failed:
        return
    failed = list({f.key: f for f in failed}.values())
    for f in failed:
        err_console.print(Text.assemble(("failed: ", "bold red"), f"{f.key}: {f.error}"), soft_wrap=True,
                          highlight=False)
    err_console.print(f"{len(failed)} file(s) failed; rerun the same command to resume them.", highlight=False)
    raise typer.Exit(code=1)


def _check_all_options(targets, container, missing, out, store, workers, scheduler) -> None:
    """Usage errors of `brainobs analyze --all` (exit 2)."""
    if targets or container or missing:
        raise typer.BadParameter("--all chooses the containers itself (all, or those of --area/--cre-line/"
                                 "--session-type); it cannot be combined with experiment ids, NWB files, "
                                 "--container or --missing", param_hint="--all")
    if out is not None:
        raise typer.BadParameter("--all stores the metrics in the catalog; export them afterwards with "
                                 "`brainobs cells --format csv --out FILE`", param_hint="--out")
    if not store:
        raise typer.BadParameter("--all always stores the metrics in the catalog", param_hint="--no-store")
    if workers is not None and scheduler is not None:
        raise typer.BadParameter("give --workers (a local cluster) or --scheduler (a running one), not both",
                                 param_hint="--workers/--scheduler")


def _analyze_all(obs, area, cre_line, session_type, family, seed: int, n_shuffles: int, workers: int | None,
                 scheduler: str | None, memory_limit: str) -> None:
    """`brainobs analyze --all`: plan, run (serially, local cluster or scheduler), summary; exit 1 on failures."""
    from contextlib import ExitStack

    from brainobs.parallel import analyze_all, connect

    with ExitStack() as stack:
        client = None
        n = workers if workers is not None else (os.cpu_count() or 1)
        if scheduler is not None:
            client = stack.enter_context(connect(scheduler))
            err_console.print(f"Dask scheduler {scheduler}: {len(client.scheduler_info().get('workers', {}))} worker(s)",
                              highlight=False)
        elif n > 1:
            err_console.print(f"local Dask cluster: {n} worker processes × 1 thread, memory limit {memory_limit} "
                              "per worker", highlight=False)
        with _make_progress() as progress:
            report = analyze_all(obs, area=area, cre_line=cre_line, session_type=session_type,
                                 families=family or None, seed=seed, n_shuffles=n_shuffles, client=client,
                                 workers=1 if client is not None else n,
                                 memory_limit=None if memory_limit == "none" else memory_limit,
                                 progress=_progress_callback(progress))
    _print_report(obs, report)


def _print_report(obs, report) -> None:
    """The end of `analyze --missing` / `--all`: the container table, the QC note, where the
    metrics went, one line per failed container; exit 1 when a container failed."""
    table = report.table()
    if table.empty:
        err_console.print("no container matches this selection")
    else:
        show(_rich_table(table, str(report)))
    if os.environ.get("BRAINOBS_DEBUG") not in (None, "", "0"):
        for r in report.failed:
            err_console.print(Text(r.detail))
    _print_qc_note([report.qc_table()])
    if report.done:
        where = f" (store {obs.store_root})" if obs.store_external else ""
        err_console.print(f"stored the metrics of {len(report.done)} container(s) in the catalog of {obs.data_dir}{where}")
    if report.failed:
        for r in report.failed:
            err_console.print(Text.assemble(("failed: ", "bold red"), f"container {r.container_id}: {r.reason}"),
                              soft_wrap=True)
        ids = ", ".join(str(r.container_id) for r in report.failed)
        err_console.print(Text.assemble(("error: ", "bold red"), f"{len(report.failed)} container(s) failed: {ids} "
                                        "(BRAINOBS_DEBUG=1 shows the tracebacks); a rerun retries them"),
                          soft_wrap=True)
        raise typer.Exit(code=1)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Store-corruption warnings as one ``warning:`` line (no source line); others as usual."""
    from brainobs.errors import StoreCorruptionWarning

    if issubclass(category, StoreCorruptionWarning):
        err_console.print(Text.assemble(("warning: ", "bold yellow"), str(message)), soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``brainobs`` console script; returns the exit status."""
    debug = os.environ.get("BRAINOBS_DEBUG") not in (None, "", "0")
    warnings.showwarning = _show_warning
    try:
        # Standalone mode: typer prints usage errors itself and exits via SystemExit.
        app(args=argv, prog_name="brainobs", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except (BrainobsError, LookupError, ValueError, OSError) as e:
        if debug:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        # one line; the message is plain text, never markup (it may quote the user's "[...]")
        err_console.print(Text.assemble(("error: ", "bold red"), str(msg)), highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
