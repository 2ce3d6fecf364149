"""Meeting forms. They collect what was typed; the rules (and their messages) live in services,
which name the field and the fix."""

from __future__ import annotations

from datetime import time
from typing import Any, cast

from django import forms

from civicloop.accounts.models import User
from civicloop.improvement.forms import DATE, MARKDOWN_HELP, _people_field, team_people
from civicloop.meetings.models import AgendaItem, Meeting, NoteKind, Weekday
from civicloop.meetings.services import MeetingError
from civicloop.metrics.models import Metric
from civicloop.organizations.models import Team

TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def add_problems(form: forms.Form, error: MeetingError) -> None:
    for name, message in error.problems:
        form.add_error(name if name in form.fields else None, message)


class MeetingForm(forms.Form):
    on = forms.DateField(label="Day", widget=DATE)
    starts_at = forms.TimeField(label="Starts at", initial=time(10, 0), widget=TIME)
    minutes = forms.IntegerField(label="Length (minutes)", initial=60, min_value=5, max_value=480)
    title = forms.CharField(
        label="Title",
        max_length=200,
        required=False,
        help_text="Empty: “<team> performance meeting”.",
    )
    location = forms.CharField(label="Where", max_length=200, required=False)


class CadenceForm(forms.Form):
    every_weeks = forms.TypedChoiceField(
        label="How often",
        coerce=int,
        choices=[
            (1, "Weekly"),
            (2, "Fortnightly"),
            (3, "Every three weeks"),
            (4, "Every four weeks"),
        ],
        initial=2,
    )
    weekday = forms.TypedChoiceField(
        label="On", coerce=int, choices=Weekday.choices, initial=Weekday.TUESDAY
    )
    starts_at = forms.TimeField(label="Starts at", initial=time(10, 0), widget=TIME)
    minutes = forms.IntegerField(label="Length (minutes)", initial=60, min_value=5, max_value=480)
    first_on = forms.DateField(
        label="First meeting", widget=DATE, help_text="Must fall on the day chosen above."
    )
    location = forms.CharField(label="Where", max_length=200, required=False)


class ItemForm(forms.Form):
    title = forms.CharField(
        label="Item",
        max_length=300,
        required=False,
        help_text="What to discuss, in a line (empty with a metric: the metric's name).",
    )
    metric = forms.ModelChoiceField(
        label="About a metric (optional)", queryset=Metric.objects.none(), required=False
    )
    reason = forms.CharField(label="Why", max_length=400, required=False)

    def __init__(self, *args: Any, team: Team, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["metric"]).queryset = (
            Metric.objects.visible_to(user).filter(team=team).order_by("name")
        )


class CommentaryForm(forms.Form):
    text = forms.CharField(
        label="Commentary",
        widget=forms.Textarea({"rows": 6}),
        required=False,
        help_text="A few sentences: what the chart shows, why, and what is being done. "
        + MARKDOWN_HELP,
    )


class NoteForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=NoteKind.choices, initial=NoteKind.NOTE)
    text = forms.CharField(label="Note", widget=forms.Textarea({"rows": 2}), required=False)
    item = forms.ModelChoiceField(
        label="On the item", queryset=AgendaItem.objects.none(), required=False
    )

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["item"]).queryset = meeting.items.all()


class ActionForm(forms.Form):
    text = forms.CharField(label="Action", max_length=300, required=False)
    owner = forms.ModelChoiceField(label="Owner", queryset=User.objects.none(), required=False)
    due_on = forms.DateField(label="Due", widget=DATE, required=False)
    item = forms.ModelChoiceField(
        label="On the item",
        queryset=AgendaItem.objects.none(),
        required=False,
        help_text="The action is linked to the item's metric, key result or A3.",
    )

    def __init__(self, *args: Any, team: Team, meeting: Meeting | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _people_field(self.fields["owner"], team_people(team))
        if meeting is not None:
            cast(forms.ModelChoiceField, self.fields["item"]).queryset = meeting.items.all()
        else:
            del self.fields["item"]


class CloseActionForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome", choices=[("done", "Done"), ("dropped", "Dropped")], initial="done"
    )
    closing_note = forms.CharField(
        label="Note", max_length=300, required=False, help_text="Needed when dropping it."
    )


class EndForm(forms.Form):
    attendees = forms.ModelMultipleChoiceField(
        label="Who attended",
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _people_field(self.fields["attendees"], team_people(team))


class CancelForm(forms.Form):
    reason = forms.CharField(label="Why it is cancelled", max_length=300, required=False)
