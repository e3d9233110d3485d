"""The Report object: sections rendered by a jinja2 template into one self-contained page.

Figures are embedded as PNG data URIs and the stylesheet is inlined, so the file opens
offline, can be mailed, and shows inline in Jupyter (``_repr_html_``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup


@dataclass
class Section:
    """One part of the report.

    ``paragraphs`` and ``notes`` are plain text (escaped when rendered); ``figures`` are
    ``(caption, data URI)`` pairs; ``tables`` are ``(caption, HTML)`` pairs made by pandas;
    ``blocks`` are comparison blocks (title, text, figure, tables, notes).
    """

    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "".join(ch if ch.isalnum() else "-" for ch in self.title.lower()).strip("-")


def _environment():
    import jinja2

    loader = jinja2.FunctionLoader(
        lambda name: resources.files("brainobs.report").joinpath("templates", name).read_text("utf-8"))
    return jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)


@dataclass
class Report:
    """A rendered-on-demand HTML report (:func:`brainobs.report.build_report`)."""

    title: str
    sections: list[Section]
    meta: dict[str, Any] = field(default_factory=dict)

    def html(self, *, standalone: bool = True) -> str:
        """The report as HTML: a whole page, or (``standalone=False``) a fragment for Jupyter."""
        env = _environment()
        css = resources.files("brainobs.report").joinpath("templates", "report.css").read_text("utf-8")
        from brainobs import __version__

        sections = [{**s.__dict__, "anchor": s.anchor,
                     "tables": [(c, Markup(t)) for c, t in s.tables],
                     "blocks": [{**b, "tables": [Markup(t) for t in b.get("tables", []) if t]}
                                for b in s.blocks]} for s in self.sections]
        return env.get_template("report.html.jinja").render(
            title=self.title, sections=sections, meta=self.meta, css=Markup(css),
            standalone=standalone, version=__version__)

    def _repr_html_(self) -> str:
        return self.html(standalone=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page atomically (temp file in the same folder, then rename)."""
        out = Path(path)
        if out.parent and not out.parent.exists():
            raise FileNotFoundError(f"folder of the report does not exist: {out.parent}")
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}-", suffix=".tmp", dir=out.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.html())
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return out

    def __repr__(self) -> str:
        return f"Report({self.title!r}, {len(self.sections)} sections)"


__all__ = ["Report", "Section"]
