"""A3 and PDSA forms. They collect what was typed; the rules (and their messages) live in
services, which name the field and the fix."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Q

from civicloop.accounts.models import User
from civicloop.improvement.models import (
    A3,
    Decision,
    Outcome,
    PredictedDirection,
    VoiceKind,
    VoiceSection,
)
from civicloop.improvement.sections import MAX_WHYS, SECTIONS
from civicloop.improvement.services import A3Error
from civicloop.metrics.models import Metric
from civicloop.metrics.services import latest_run
from civicloop.okrs.models import KeyResult
from civicloop.organizations.models import Role, Team

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MARKDOWN_HELP = (
    "Markdown works: **bold**, *italic*, lists starting with - or 1., and [links](https://…)."
)


def add_problems(form: forms.Form, error: A3Error, names: dict[str, str] | None = None) -> None:
    """Put a service's refusal on the fields it names (the rest on the whole form); `names`
    maps a service's field name to the form's where they differ."""
    for name, message in error.problems:
        name = (names or {}).get(name, name)
        form.add_error(name if name in form.fields else None, message)


def _name(user: User) -> str:
    return user.full_name or user.email


def _people_field(field: forms.Field, queryset: Any) -> None:
    chooser = cast(forms.ModelChoiceField, field)
    chooser.queryset = queryset.order_by("full_name")
    chooser.label_from_instance = _name  # type: ignore[assignment,method-assign]


def team_people(team: Team) -> Any:
    return User.objects.filter(memberships__team=team).distinct()


def team_editors(team: Team) -> Any:
    """Owners of A3s: the team's leads and members (who may edit what they own)."""
    return User.objects.filter(
        memberships__team=team, memberships__role__in=(Role.LEAD, Role.MEMBER)
    ).distinct()


def sponsors(team: Team) -> Any:
    """Sponsors and mentors: the team's people, and people of the team's organizations."""
    orgs = User.objects.filter(memberships__team=team).values("organization")
    return User.objects.filter(
        Q(memberships__team=team) | Q(organization__in=orgs), is_active=True
    ).distinct()


def find_series(metric: Metric, value: str) -> tuple[str, str]:
    """The breakdown series whose value is `value` (case-insensitive), e.g. District 3."""
    value = value.strip()
    if not value:
        return "", ""
    run = latest_run(metric)
    pairs = list(run.series.exclude(breakdown="").values_list("breakdown", "value")) if run else []
    exact = [(b, v) for b, v in pairs if v == value] or [
        (b, v) for b, v in pairs if v.lower() == value.lower()
    ]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        where = ", ".join(b for b, _ in exact)
        raise A3Error(f"“{value}” is a value of more than one breakdown ({where}).", "value")
    listed = ", ".join(sorted(v for _, v in pairs)[:30])
    hint = f" Its breakdown values are: {listed}." if listed else " It has no breakdowns."
    raise A3Error(f"{metric.name} has no breakdown value “{value}”.{hint}", "value")


class MetricChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.team.name})"


def _metrics(field: forms.Field, user: User) -> None:
    cast(forms.ModelChoiceField, field).queryset = (
        Metric.objects.visible_to(user).exclude(current_version=None).select_related("team")
    )


def _kr_label(kr: KeyResult) -> str:
    return f"{kr.title} ({kr.period.label})"


class A3NewForm(forms.Form):
    title = forms.CharField(
        max_length=200,
        required=False,
        help_text="Name the problem, e.g. “Illegal dumping waits 9 days in District 3”.",
    )
    problem = forms.CharField(
        label="The problem in a line",
        max_length=200,
        required=False,
        help_text="What goes wrong, where and how much: the head of the fishbone.",
    )
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    sponsor = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    mentor = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    started_on = forms.DateField(label="Started", required=False, widget=DATE)
    template = forms.ChoiceField(
        label="Questions from",
        required=False,
        help_text="The A3 questions your team has saved as a template, or the standard ones.",
    )

    def __init__(
        self, *args: Any, team: Team, user: User, templates: list[Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _people_field(self.fields["owner"], team_editors(team))
        _people_field(self.fields["sponsor"], sponsors(team))
        _people_field(self.fields["mentor"], sponsors(team))
        self._templates = {str(t.pk): t for t in templates}
        cast(forms.ChoiceField, self.fields["template"]).choices = [
            ("", "The standard A3 questions")
        ] + [
            (str(t.pk), t.name if t.team_id == team.pk else f"{t.name} (from {t.team.name})")
            for t in templates
        ]

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["template"] = self._templates.get(data.get("template") or "")
        return data


class A3HeaderForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    problem = forms.CharField(label="The problem in a line", max_length=200, required=False)
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    sponsor = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    mentor = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    started_on = forms.DateField(label="Started", required=False, widget=DATE)
    review_on = forms.DateField(
        label="Next review",
        required=False,
        widget=DATE,
        help_text="When the team next looks at this A3 together.",
    )
    reason = forms.CharField(
        label="Why this change (optional)", required=False, widget=forms.Textarea({"rows": 2})
    )

    def __init__(self, *args: Any, a3: A3, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _people_field(self.fields["owner"], team_editors(a3.team))
        _people_field(self.fields["sponsor"], sponsors(a3.team))
        _people_field(self.fields["mentor"], sponsors(a3.team))


class SharingForm(forms.Form):
    is_open = forms.BooleanField(
        label="Open to everyone signed in",
        required=False,
        help_text="Everyone signed in may read it; only the team edits it.",
    )
    shared_with = forms.ModelMultipleChoiceField(
        label="Shared with teams",
        queryset=Team.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The people of these teams may read it. You can choose the teams you are in.",
    )

    def __init__(self, *args: Any, a3: A3, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = list(a3.shared_with.values_list("pk", flat=True))
        cast(forms.ModelMultipleChoiceField, self.fields["shared_with"]).queryset = (
            Team.objects.filter(
                Q(pk__in=Team.objects.visible_to(user).values("pk")) | Q(pk__in=current)
            )
            .exclude(pk=a3.team_id)
            .order_by("name")
        )


class SectionForm(forms.Form):
    """One text section; the current condition adds its date, the goal its measure."""

    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}), required=False, help_text=MARKDOWN_HELP
    )
    reason = forms.CharField(
        label="Why this change (optional)", required=False, widget=forms.Textarea({"rows": 2})
    )

    def __init__(self, *args: Any, a3: A3, key: str, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key = key
        self.fields["text"].label = next(s.title for s in SECTIONS if s.key == key)
        if key == "current_condition":
            self.fields["current_as_of"] = forms.DateField(
                label="Charts drawn with the data up to",
                required=False,
                widget=DATE,
                help_text="Empty: the latest data. A date cuts the charts there (the values "
                "are the latest computed ones, so later corrections show).",
            )
        if key == "goal":
            field = MetricChoice(
                queryset=Metric.objects.none(),
                required=False,
                label="Measure",
                help_text="The metric that shows the goal is reached.",
            )
            _metrics(field, user)
            self.fields["goal_metric"] = field
            self.fields["goal_value"] = forms.CharField(
                label="Its breakdown value (optional)",
                required=False,
                max_length=200,
                help_text="e.g. District 3, when the goal is for one value; empty for the whole "
                "measure.",
            )
            self.fields["goal_target"] = forms.FloatField(
                label="Target value", required=False, help_text="In the metric's units."
            )
            self.fields["goal_by"] = forms.DateField(label="By", required=False, widget=DATE)
            krs = (
                KeyResult.objects.filter(Q(team=a3.team) | Q(objective__team=a3.team))
                .select_related("objective")
                .order_by("-year", "-quarter", "title")[:200]
            )
            kr_field = forms.ModelChoiceField(
                queryset=KeyResult.objects.filter(pk__in=[k.pk for k in krs]),
                required=False,
                label="Key result (optional)",
                help_text="A key result of the team's OKRs that this A3 should move.",
            )
            kr_field.label_from_instance = _kr_label  # type: ignore[method-assign,assignment]
            self.fields["goal_key_result"] = kr_field
        self.order_fields(
            ["text", "current_as_of", "goal_metric", "goal_value", "goal_target", "goal_by"]
        )

    def values(self) -> dict[str, Any]:
        data = {self.key: self.cleaned_data.get("text") or ""}
        for name in ("current_as_of", "goal_metric", "goal_target", "goal_by", "goal_key_result"):
            if name in self.fields:
                data[name] = self.cleaned_data.get(name)
        if "goal_value" in self.fields:
            metric = self.cleaned_data.get("goal_metric")
            typed = self.cleaned_data.get("goal_value") or ""
            if metric is None and typed:
                raise A3Error("Choose the goal's metric for its breakdown value.", "goal_value")
            data["goal_breakdown"], data["goal_value"] = (
                find_series(metric, typed) if metric is not None else ("", "")
            )
        return data


class RootCauseForm(forms.Form):
    problem = forms.CharField(
        label="The problem (the fishbone's head)",
        max_length=200,
        required=False,
        help_text="What goes wrong, where and how much.",
    )

    def __init__(self, *args: Any, a3: A3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for index in range(1, MAX_WHYS + 1):
            self.fields[f"why_{index}"] = forms.CharField(
                label=f"Why {index}?", required=False, max_length=500
            )
        self.categories = list(a3.fishbone_categories)
        for index, category in enumerate(self.categories):
            self.fields[f"causes_{index}"] = forms.CharField(
                label=category,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text="One cause per line.",
            )

    @property
    def why_fields(self) -> list[Any]:
        return [self[f"why_{i}"] for i in range(1, MAX_WHYS + 1)]

    @property
    def cause_fields(self) -> list[Any]:
        return [self[f"causes_{i}"] for i in range(len(self.categories))]

    def whys(self) -> list[str]:
        return [self.cleaned_data.get(f"why_{i}") or "" for i in range(1, MAX_WHYS + 1)]

    def causes(self) -> list[tuple[str, str]]:
        out = []
        for index, category in enumerate(self.categories):
            for line in (self.cleaned_data.get(f"causes_{index}") or "").splitlines():
                if line.strip():
                    out.append((category, line.strip().lstrip("-•* ").strip()))
        return out


class ChartForm(forms.Form):
    metric = MetricChoice(queryset=Metric.objects.none(), required=False)
    value = forms.CharField(
        label="One breakdown value (optional)",
        required=False,
        max_length=200,
        help_text="e.g. District 3; empty for the whole measure.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _metrics(self.fields["metric"], user)


class VoiceForm(forms.Form):
    section = forms.ChoiceField(label="Attach to", choices=VoiceSection.choices)
    kind = forms.ChoiceField(label="What it is", choices=VoiceKind.choices)
    text = forms.CharField(
        label="In their words",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
    )
    source = forms.CharField(
        label="Who or where from",
        required=False,
        max_length=200,
        help_text="e.g. “Resident, Harbour Street (311 call)”, “Spring survey, 412 replies”.",
    )
    on = forms.DateField(label="When", required=False, widget=DATE)


class CountermeasureForm(forms.Form):
    title = forms.CharField(
        max_length=200, required=False, help_text="The change, in a line: what will be different."
    )
    cause = forms.CharField(
        label="Root cause it addresses",
        max_length=300,
        required=False,
        help_text="Which why, or which cause on the fishbone.",
    )
    description = forms.CharField(
        label="How it works",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=MARKDOWN_HELP,
    )


class ActionForm(forms.Form):
    what = forms.CharField(label="What", max_length=300, required=False)
    owner = forms.ModelChoiceField(label="Who", queryset=User.objects.none(), required=False)
    due_on = forms.DateField(label="By when", required=False, widget=DATE)
    countermeasure = forms.ModelChoiceField(
        label="For the countermeasure",
        queryset=A3.objects.none(),
        required=False,
    )

    def __init__(self, *args: Any, a3: A3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _people_field(self.fields["owner"], team_people(a3.team))
        cast(
            forms.ModelChoiceField, self.fields["countermeasure"]
        ).queryset = a3.countermeasures.all()


class StateForm(forms.Form):
    state = forms.ChoiceField(label="Move to", choices=())
    outcome = forms.ChoiceField(
        label="Outcome (when closing)",
        required=False,
        choices=[("", "—"), *Outcome.choices],
    )
    reason = forms.CharField(
        label="Why",
        required=False,
        widget=forms.Textarea({"rows": 2}),
        help_text="Needed when moving back a step or abandoning; the history keeps it.",
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["state"]).choices = choices


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=120, required=False)
    is_shared = forms.BooleanField(
        label="Other teams may use it",
        required=False,
        help_text="Shared templates are offered to every team starting an A3.",
    )
    fishbone_categories = forms.CharField(
        label="Fishbone categories",
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="One per line, e.g. People, Policies, Procedures, Place for a service.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for section in SECTIONS:
            self.fields[f"question_{section.key}"] = forms.CharField(
                label=f"{section.title}: the question",
                required=False,
                max_length=500,
                widget=forms.Textarea(attrs={"rows": 2}),
                initial=section.question,
            )


class CycleForm(forms.Form):
    change = forms.CharField(
        label="What change will you try?",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    question = forms.CharField(
        label="What should this cycle tell you?",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    who = forms.CharField(label="Who", max_length=300, required=False)
    where = forms.CharField(label="Where", max_length=300, required=False)
    metric = MetricChoice(
        label="Judged on the metric",
        queryset=Metric.objects.none(),
        required=False,
        help_text="Its chart says whether the change worked.",
    )
    value = forms.CharField(
        label="Pilot limited to (optional)",
        max_length=200,
        required=False,
        help_text="One breakdown value, e.g. District 3: it is compared with all the others.",
    )
    prediction = forms.CharField(
        label="Prediction",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Written before the cycle starts, and fixed from then on: what will happen, "
        "and by how much?",
    )
    predicted_direction = forms.ChoiceField(
        label="The measure will",
        choices=[("", "—"), *PredictedDirection.choices],
        required=False,
    )
    predicted_value = forms.FloatField(
        label="Predicted mean after the change (optional)",
        required=False,
        help_text="In the metric's units; the Study step compares the new mean with it.",
    )
    data_to_collect = forms.CharField(
        label="Data to collect",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    planned_start = forms.DateField(label="Planned start", required=False, widget=DATE)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _metrics(self.fields["metric"], user)

    def values(self) -> dict[str, Any]:
        """The plan, with the pilot's value found among the metric's breakdowns."""
        data = dict(self.cleaned_data)
        metric = data.get("metric")
        data["breakdown"], data["value"] = (
            find_series(metric, data.get("value") or "") if metric else ("", "")
        )
        return data


class StartForm(forms.Form):
    started_on = forms.DateField(
        label="The change went live on",
        required=False,
        widget=DATE,
        help_text="It goes on the metric's chart as an event.",
    )


class DoForm(forms.Form):
    ended_on = forms.DateField(label="The test ended on", required=False, widget=DATE)
    what_happened = forms.CharField(
        label="What happened",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Was the change made as planned? Problems, surprises.",
    )


class StudyForm(forms.Form):
    study_notes = forms.CharField(
        label="What the team makes of it",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="How does the data compare with the prediction? What did you learn?",
    )


class ActForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("", "—"), *Decision.choices],
        required=False,
        help_text="Adopt: make it the way we work (the metric is rebased at the change). "
        "Adapt: change it and test again. Abandon: stop.",
    )
    act_notes = forms.CharField(
        label="Why, and what next",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    adopt_anyway = forms.BooleanField(
        label="Adopt although the data does not show it",
        required=False,
        help_text="Only when the verdict is not special cause in the predicted direction.",
    )
