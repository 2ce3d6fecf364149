"""OKR forms. They collect what was typed; the rules (and their messages) live in services, so
numbers and quarters are taken as text here and judged there, naming the field and the fix."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Q

from civicloop.accounts.models import User
from civicloop.metrics.models import Metric
from civicloop.okrs.models import (
    ChangeRoles,
    Confidence,
    KeyResult,
    KeyResultKind,
    Mission,
    Objective,
    Outcome,
)
from civicloop.okrs.quarters import quarters_of
from civicloop.okrs.services import OkrError, OkrInputError
from civicloop.organizations.models import Role, Team

REASON_HELP = "The history keeps it, with who changed what, from what to what."


def add_problems(form: forms.Form, error: OkrError) -> None:
    """Put a service's refusal on the field it names (or the whole form)."""
    problems = (
        error.problems if isinstance(error, OkrInputError) else [(error.field, error.message)]
    )
    for name, message in problems:
        form.add_error(name if name in form.fields else None, message)


class ReasonMixin(forms.Form):
    reason = forms.CharField(
        label="Why this change",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=REASON_HELP,
    )


class MissionForm(forms.Form):
    title = forms.CharField(max_length=300, required=False)
    public_value = forms.CharField(
        label="Public value",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="The good this mission produces and for whom, in words a resident would use.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    is_active = forms.BooleanField(label="Active", required=False, initial=True)


class MissionEditForm(MissionForm, ReasonMixin):
    pass


def _editors(teams: list[Team]) -> Any:
    return (
        User.objects.filter(
            memberships__team__in=teams, memberships__role__in=(Role.LEAD, Role.MEMBER)
        )
        .distinct()
        .order_by("full_name")
    )


def _people(field: forms.Field, teams: list[Team]) -> None:
    chooser = cast(forms.ModelChoiceField, field)
    chooser.queryset = _editors(teams)
    chooser.label_from_instance = lambda u: u.full_name or u.email  # type: ignore[assignment]


class ObjectiveForm(forms.Form):
    mission = forms.ChoiceField(help_text="The long-term mission this objective serves.")
    year = forms.CharField(label="OKR year", required=False)  # judged in services
    title = forms.CharField(
        max_length=300,
        required=False,
        help_text="What the team will achieve this year, in a sentence.",
    )
    description = forms.CharField(
        label="Why it matters", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    partner_teams = forms.ModelMultipleChoiceField(
        label="Shared with teams",
        queryset=Team.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A coalition objective: the teams that share it see it and add their own key "
        "results to it. You can choose the teams you are in.",
    )
    is_private = forms.BooleanField(
        label="Private to its teams",
        required=False,
        help_text="Only the people of its teams (leads, members, viewers and guests) see a "
        "private objective; otherwise everyone signed in sees it in the organization's tree.",
    )

    def __init__(self, *args: Any, team: Team, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Active missions, and the one an objective being changed already serves.
        current = (self.initial or {}).get("mission") or ""
        missions = Mission.objects.filter(Q(is_active=True) | Q(slug=current))
        cast(forms.ChoiceField, self.fields["mission"]).choices = [("", "Choose a mission")] + [
            (m.slug, m.title) for m in missions
        ]
        _people(self.fields["owner"], [team])
        partners = cast(forms.ModelMultipleChoiceField, self.fields["partner_teams"])
        # The teams this person may know of, and the objective's partners already: a lead
        # not in a partner team must be able to save the objective without dropping it.
        current = [t.pk for t in self.initial.get("partner_teams") or []]
        partners.queryset = (
            Team.objects.filter(
                Q(pk__in=Team.objects.visible_to(user).values("pk")) | Q(pk__in=current)
            )
            .exclude(pk=team.pk)
            .order_by("name")
        )
        if not partners.queryset.exists():
            del self.fields["partner_teams"]  # no team to offer: an empty box only puzzles

    def values(self) -> dict[str, Any]:
        partners = self.cleaned_data.get("partner_teams")
        if partners is None:  # not offered: keep what the objective has
            return {k: v for k, v in self.cleaned_data.items() if k != "partner_teams"}
        return {**self.cleaned_data, "partner_teams": list(partners)}


class ObjectiveEditForm(ObjectiveForm, ReasonMixin):
    pass


class KeyResultForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)
    quarter = forms.CharField(widget=forms.Select(), required=False)
    title = forms.CharField(
        max_length=300,
        required=False,
        help_text="What will be measurably different by the end of the quarter.",
    )
    kind = forms.ChoiceField(
        choices=KeyResultKind.choices, widget=forms.RadioSelect, initial=KeyResultKind.MEASURE
    )
    metric = forms.CharField(
        label="Track a metric",
        widget=forms.Select(),
        required=False,
        help_text="Its value then updates itself after every refresh, and its status comes "
        "from the metric's chart (assurance against your target).",
    )
    start_value = forms.CharField(
        label="Start value",
        required=False,
        help_text="Where it is today. With a metric, leave empty to start from its value "
        "before the quarter.",
    )
    target_value = forms.CharField(label="Target", required=False)
    unit = forms.CharField(max_length=40, required=False, help_text="e.g. days, %, reports")
    decimals = forms.CharField(label="Decimals shown", initial="0", required=False)
    weight = forms.CharField(
        initial="1",
        required=False,
        help_text="How much it counts towards the objective's progress (0 or more).",
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        help_text="The lead or member who checks in on it.",
    )

    def __init__(
        self, *args: Any, objective: Objective, user: User, teams: list[Team], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = Team.objects.filter(
            pk__in=[t.pk for t in teams]
        )
        self.fields["quarter"].widget.choices = [
            (q.code, q.label) for q in quarters_of(objective.year)
        ]
        metrics = Metric.objects.visible_to(user).exclude(current_version=None).order_by("name")
        self.fields["metric"].widget.choices = [("", "No metric: I will check in the value")] + [
            (m.slug, f"{m.name} ({m.team.name})") for m in metrics.select_related("team")
        ]
        _people(self.fields["owner"], teams)

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["metric"] = data.get("metric") or None
        return data


class KeyResultEditForm(KeyResultForm, ReasonMixin):
    @staticmethod
    def initial_for(kr: KeyResult) -> dict[str, Any]:
        return {
            "team": kr.team,
            "quarter": kr.period.code,
            "title": kr.title,
            "kind": kr.kind,
            "metric": kr.metric.slug if kr.metric else "",
            "start_value": "" if kr.start_value is None else f"{kr.start_value:g}",
            "target_value": "" if kr.target_value is None else f"{kr.target_value:g}",
            "unit": kr.unit,
            "decimals": str(kr.decimals),
            "weight": f"{kr.weight:g}",
            "owner": kr.owner,
        }


class CheckInForm(forms.Form):
    value = forms.CharField(label="Current value", required=False)
    done = forms.BooleanField(label="Done", required=False)
    confidence = forms.ChoiceField(
        choices=Confidence.choices,
        widget=forms.RadioSelect,
        label="How confident are you that it will be met?",
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="What moved, what is in the way, what help you need. A few lines.",
    )

    def __init__(self, *args: Any, key_result: KeyResult, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if key_result.is_milestone or key_result.metric is not None:
            del self.fields["value"]
        if not key_result.is_milestone:
            del self.fields["done"]
        elif key_result.done:
            self.fields["done"].initial = True
        if "value" in self.fields and key_result.unit:
            self.fields["value"].label = f"Current value ({key_result.unit})"


class PolicyForm(forms.Form):
    objectives_changed_by = forms.ChoiceField(
        label="Who writes and changes the team's objectives during the year",
        choices=ChangeRoles.choices,
        widget=forms.RadioSelect,
    )
    checkin_every_days = forms.TypedChoiceField(
        label="Check-ins",
        coerce=int,
        choices=[(7, "Weekly"), (14, "Fortnightly")],
        widget=forms.RadioSelect,
    )


OUTCOME_CHOICES = [
    (Outcome.COMPLETED.value, "Completed"),
    (Outcome.CARRIED.value, "Carry over to next quarter"),
    (Outcome.DROPPED.value, "Drop"),
]


class QuarterCloseForm(forms.Form):
    reflection = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="What worked, what did not, what the team will do differently next quarter.",
    )

    def __init__(
        self, *args: Any, key_results: list[KeyResult], last_of_year: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.key_results = key_results
        for kr in key_results:
            progress = kr.progress()
            self.fields[f"kr-{kr.pk}-score"] = forms.CharField(
                label=f"Score for “{kr.title}” (0-100 %)",
                initial="" if progress is None else str(round(progress * 100)),
                required=False,
            )
            self.fields[f"kr-{kr.pk}-outcome"] = forms.ChoiceField(
                label=f"What happens to “{kr.title}”",
                choices=OUTCOME_CHOICES,
                widget=forms.RadioSelect,
                initial=Outcome.COMPLETED.value if progress == 1 else None,
                required=False,
            )
            if last_of_year:
                # Not offered: the year's objectives end with its last quarter. (Still a valid
                # answer, so the service can say why it is refused if it is sent anyway.)
                outcome = cast(forms.ChoiceField, self.fields[f"kr-{kr.pk}-outcome"])
                outcome.widget.choices = [c for c in OUTCOME_CHOICES if c[0] != "carried"]
            self.fields[f"kr-{kr.pk}-note"] = forms.CharField(
                label=f"Note on “{kr.title}”", required=False
            )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "kr": kr,
                "score": self[f"kr-{kr.pk}-score"],
                "outcome": self[f"kr-{kr.pk}-outcome"],
                "note": self[f"kr-{kr.pk}-note"],
            }
            for kr in self.key_results
        ]
