"""Writing a benchmark's figures into its own section of docs/performance.md."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def replace_section(section: str, block: str, doc: Path = DOC) -> None:
    """Put `block` (which starts with the `section` heading) in place of that section, from its
    heading to the next `## ` heading; append it if the document has no such section yet."""
    text = doc.read_text("utf-8") if doc.exists() else "# Performance\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == section), None)
    if start is None:
        doc.write_text(text.rstrip("\n") + "\n\n" + block, encoding="utf-8")
        return
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
        len(lines),
    )
    tail = "".join(lines[end:])
    doc.write_text("".join(lines[:start]) + block + ("\n" + tail if tail else ""), "utf-8")
