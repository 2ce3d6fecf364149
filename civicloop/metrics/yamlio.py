"""Metric definitions as YAML files, one per metric, for people who keep them in git.

The writer is deterministic: canonical key order, block style, long text folded at the same
width every time, so exporting twice gives identical files and a one-field change is a one-line
diff. The reader reports malformed YAML with the file and line, and definition problems with
the file and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from civicloop.metrics.definition import DefinitionError, parse_definition


class _Dumper(yaml.SafeDumper):
    """Block style, insertion order, multi-line text as literal blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_definition(definition: Mapping[str, Any]) -> str:
    header = "# civicloop metric definition; docs/metrics.md explains each key.\n"
    body = yaml.dump(
        dict(definition),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return header + body


class YamlProblem(ValueError):
    """A file that cannot be imported; the message names the file, the line or field, the fix."""


def load_definition_file(path: Path) -> dict[str, Any]:
    """Parse one YAML file into plain data, with a clear message for malformed YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YamlProblem(f"{path.name}: not UTF-8 text; save the file as UTF-8.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise YamlProblem(
            f"{path.name}, {where}: this is not valid YAML ({error.problem}). Check the "
            "indentation and quote text that contains a colon."
        ) from None
    except yaml.YAMLError as error:
        raise YamlProblem(f"{path.name}: this is not valid YAML ({error}).") from None
    if not isinstance(data, dict):
        raise YamlProblem(
            f"{path.name}: expected a mapping of keys (id, name, question, ...), found "
            f"{type(data).__name__}."
        )
    try:
        parse_definition(data)
    except DefinitionError as error:
        lines = "; ".join(f"{field}: {message}" for field, message in error.problems)
        raise YamlProblem(f"{path.name}: {lines}") from None
    return data


@dataclass
class ImportPlan:
    files: list[tuple[Path, dict[str, Any]]]
    problems: list[str]


def read_folder(folder: Path) -> ImportPlan:
    """Every *.yaml / *.yml file in a folder, checked; nothing is saved from here."""
    files: list[tuple[Path, dict[str, Any]]] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not paths:
        problems.append(f"{folder}: no .yaml files here; export some with civicloop metrics export")
    for path in paths:
        try:
            data = load_definition_file(path)
        except YamlProblem as problem:
            problems.append(str(problem))
            continue
        metric_id = str(data["id"])
        if metric_id in seen:
            problems.append(
                f"{path.name}: id {metric_id!r} is also defined in {seen[metric_id].name}; "
                "each metric may be defined once"
            )
            continue
        seen[metric_id] = path
        files.append((path, data))
    return ImportPlan(files, problems)
