"""Forms for metric definitions: the steward's edit form, the YAML form, and agreement.

The forms only collect text; the definition is checked by the services, whose problems come back
as (field path, message) and are placed on the form field they belong to.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from civicloop.metrics.definition import ChartType, Direction, Grain
from civicloop.metrics.yamlio import dump_definition

REASON_HELP = "Why the definition changes. It is kept in the history, and partners see it when "
REASON_HELP += "they are asked to agree again."


class YamlDefinitionForm(forms.Form):
    definition = forms.CharField(
        label="Definition (YAML)",
        widget=forms.Textarea(attrs={"rows": 28, "spellcheck": "false", "class": "code"}),
        help_text="Every key is explained in the metric definitions guide (docs/metrics.md). "
        "The same format as civicloop metrics export writes.",
    )
    reason = forms.CharField(label="Reason for the change", max_length=1000, help_text=REASON_HELP)

    def parsed(self) -> Any:
        import yaml

        text = self.cleaned_data["definition"]
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "in the text"
            self.add_error(
                "definition",
                f"This is not valid YAML at {where} ({error.problem}). Check the indentation "
                "and quote text that contains a colon.",
            )
            return None
        except yaml.YAMLError as error:
            self.add_error("definition", f"This is not valid YAML ({error}).")
            return None
        if not isinstance(data, dict):
            self.add_error("definition", "Write a mapping of keys: id, name, question, ...")
            return None
        return data

    @staticmethod
    def initial_for(definition: dict[str, Any]) -> dict[str, Any]:
        text = dump_definition(definition).split("\n", 1)[1]
        return {"definition": text}


def _rebase_lines(definition: dict[str, Any]) -> str:
    items = definition.get("chart", {}).get("rebases", [])
    return "\n".join(
        f"{item['date']}"
        + (f" [{item['breakdown']} = {item['value']}]" if item.get("breakdown") else "")
        + f": {item['reason']}"
        for item in items
    )


class EditDefinitionForm(forms.Form):
    """The fields a steward changes most; the rest is on the YAML form."""

    name = forms.CharField(max_length=200)
    question = forms.CharField(
        label="The question it answers",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="In plain language, as a resident would ask it.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    caveats = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the number does not tell you, or where it can mislead.",
    )
    filter = forms.CharField(
        label="Which records count",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code"}),
        help_text="A filter such as request_type = 'Illegal dumping' AND district IN "
        "('District 3'). Leave empty to count every record.",
    )
    grain = forms.ChoiceField(
        label="Period", choices=[(g.value, g.value.capitalize()) for g in Grain]
    )
    breakdowns = forms.CharField(
        required=False,
        help_text="Columns to break the series down by, separated by commas (e.g. district, "
        "channel).",
    )
    unit = forms.CharField(required=False, max_length=40)
    decimals = forms.IntegerField(min_value=0, max_value=6, initial=0)
    direction = forms.ChoiceField(
        choices=[
            (Direction.HIGHER_IS_BETTER.value, "Higher is better"),
            (Direction.LOWER_IS_BETTER.value, "Lower is better"),
            (Direction.NEUTRAL.value, "Neither"),
        ]
    )
    target = forms.DecimalField(
        required=False,
        help_text="A single target value; leave empty for none. Trajectories are set in YAML.",
    )
    chart_type = forms.ChoiceField(
        label="Chart type",
        choices=[
            (ChartType.XMR.value, "XmR (individuals) chart"),
            (ChartType.RUN.value, "Run chart"),
            (ChartType.P.value, "p chart (proportions)"),
            (ChartType.U.value, "u chart (rates)"),
            (ChartType.C.value, "c chart (counts)"),
            (ChartType.P_PRIME.value, "Laney p-prime chart (proportions, large denominators)"),
            (ChartType.U_PRIME.value, "Laney u-prime chart (rates, large denominators)"),
        ],
        help_text="XmR suits most series; a run chart suits short ones (under 12 points).",
    )
    baseline_points = forms.IntegerField(
        label="Baseline points",
        required=False,
        min_value=12,
        help_text="Limits are fixed on this many first points of each group (12 or more); "
        "empty: all.",
    )
    screening = forms.BooleanField(
        label="Screen out large moving ranges when computing limits", required=False
    )
    rebases = forms.CharField(
        label="Rebase dates",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, as YYYY-MM-DD: reason (e.g. 2025-03-03: dumping pilot began); "
        "for one breakdown value only, YYYY-MM-DD [district = District 3]: reason.",
    )
    public = forms.BooleanField(label="Publish on the public site", required=False)
    suppress_below = forms.IntegerField(
        label="Hide public counts below",
        required=False,
        min_value=1,
        max_value=100,
        help_text="Small-number suppression for counts about people (commonly 5 or 10).",
    )
    reason = forms.CharField(label="Reason for the change", max_length=1000, help_text=REASON_HELP)

    # Where each definition path's problems are shown on this form.
    FIELD_OF_PATH = {
        "time.grain": "grain",
        "chart.type": "chart_type",
        "chart.baseline_points": "baseline_points",
        "chart.rebases": "rebases",
        "target.value": "target",
    }

    @classmethod
    def initial_for(cls, definition: dict[str, Any]) -> dict[str, Any]:
        chart = definition.get("chart", {})
        target = definition.get("target", {})
        return {
            "name": definition.get("name", ""),
            "question": definition.get("question", ""),
            "description": definition.get("description", ""),
            "caveats": definition.get("caveats", ""),
            "filter": definition.get("filter", ""),
            "grain": definition["time"]["grain"],
            "breakdowns": ", ".join(definition.get("breakdowns", [])),
            "unit": definition.get("unit", ""),
            "decimals": definition.get("decimals", 0),
            "direction": definition.get("direction", Direction.NEUTRAL.value),
            "target": target.get("value") if isinstance(target, dict) else None,
            "chart_type": chart.get("type", ChartType.XMR.value),
            "baseline_points": chart.get("baseline_points"),
            "screening": chart.get("screening", True),
            "rebases": _rebase_lines(definition),
            "public": definition.get("public", False),
            "suppress_below": definition.get("suppress_below"),
        }

    def clean_rebases(self) -> list[dict[str, str]]:
        out = []
        for number, line in enumerate(self.cleaned_data["rebases"].splitlines(), start=1):
            if not line.strip():
                continue
            day, sep, reason = line.partition(":")
            scope = ""
            if "[" in day:
                day, _, scope = day.partition("[")
                scope = scope.rstrip().rstrip("]")
            try:
                parsed = date.fromisoformat(day.strip())
            except ValueError:
                raise forms.ValidationError(
                    f"Line {number}: {day.strip()!r} is not a date. Write YYYY-MM-DD: reason."
                ) from None
            if not sep or not reason.strip():
                raise forms.ValidationError(
                    f"Line {number}: give the reason after the date, e.g. "
                    f"{parsed.isoformat()}: new crews started."
                )
            item = {"date": parsed.isoformat(), "reason": reason.strip()}
            if scope:
                breakdown, equals, value = scope.partition("=")
                if not equals or not breakdown.strip() or not value.strip():
                    raise forms.ValidationError(
                        f"Line {number}: write the breakdown value as [district = District 3]."
                    )
                item.update(breakdown=breakdown.strip(), value=value.strip())
            out.append(item)
        return out

    def merged(self, current: dict[str, Any]) -> dict[str, Any]:
        """The current definition with this form's fields applied."""
        data = self.cleaned_data
        out = dict(current)
        for key in ("name", "question", "description", "caveats", "filter", "unit"):
            out[key] = data[key]
        out["time"] = {**current["time"], "grain": data["grain"]}
        out["breakdowns"] = [b.strip() for b in data["breakdowns"].split(",") if b.strip()]
        out["decimals"] = data["decimals"]
        out["direction"] = data["direction"]
        if data["target"] is None:
            if not (
                isinstance(current.get("target"), dict) and current["target"].get("trajectory")
            ):
                out.pop("target", None)
        else:
            out["target"] = {"value": float(data["target"])}
        chart: dict[str, Any] = {"type": data["chart_type"], "screening": data["screening"]}
        if data["baseline_points"] is not None:
            chart["baseline_points"] = data["baseline_points"]
        if data["rebases"]:
            chart["rebases"] = data["rebases"]
        out["chart"] = chart
        out["public"] = data["public"]
        out["suppress_below"] = data["suppress_below"]
        return out


class AgreeForm(forms.Form):
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: anything your organization wants on record with its agreement.",
    )


def place_problems(form: forms.Form, problems: list[tuple[str, str]], fallback: str) -> None:
    """Put each (path, message) on the form field it concerns, else on `fallback`."""
    mapping: dict[str, str] = getattr(form, "FIELD_OF_PATH", {})
    for path, message in problems:
        head = path.split(".")[0].split("[")[0]
        field = mapping.get(path) or mapping.get(path.split("[")[0]) or head
        if field not in form.fields:
            field = fallback
            message = f"{path}: {message}" if path else message
        form.add_error(field if field else None, message)


class AnnotationForm(forms.Form):
    on = forms.DateField(
        label="Date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The day it happened (YYYY-MM-DD).",
        error_messages={
            "invalid": "Enter a real date as YYYY-MM-DD, e.g. 2026-03-02.",
            "required": "Give the day it happened, as YYYY-MM-DD.",
        },
    )
    text = forms.CharField(
        label="What happened",
        max_length=200,
        help_text="A few words for the chart, e.g. “Pilot started in District 3”.",
    )

    def clean_text(self) -> str:
        text = " ".join(self.cleaned_data["text"].split())
        if not text:
            raise forms.ValidationError("Say what happened, in a few words.")
        return text
