"""Weeknotes' pages. Thin: find what the person may see (404 otherwise), check they may change
it (403 otherwise), hand the input to civicloop.meetings.weeknotes, show its answer or refusal.

Who sees what: the team's people (any role) read its published weeknotes; drafts are for its
leads and members, who also draft, edit and publish (anyone else on the team is refused, 403).
People not on the team are not told the team or its weeknotes exist (404). The RSS feed is
for the team's people too: signed in, or through their own private feed link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.core.twins import Format, respond
from civicloop.meetings import weeknotes
from civicloop.meetings.models import Weeknote, can_read
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User

MARKDOWN_HELP = (
    "Markdown works: ## headings, **bold**, *italic*, lists starting with - or 1., and "
    "[links](https://…)."
)


class DraftForm(forms.Form):
    week = forms.DateField(
        label="Week",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Any day of the week: the weeknote covers its Monday to Sunday.",
        error_messages={"invalid": "Give a date such as 2026-11-23."},
    )


class WeeknoteForm(forms.Form):
    """What a person types; the rules (and their messages) are in weeknotes.edit_weeknote."""

    title = forms.CharField(label="Title", required=False, max_length=10_000)
    body = forms.CharField(
        label="Weeknote",
        required=False,
        widget=forms.Textarea(attrs={"rows": 24}),
        help_text=MARKDOWN_HELP,
    )


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _problems(form: forms.Form, error: weeknotes.WeeknoteError) -> None:
    for name, message in error.problems:
        form.add_error(name if name in form.fields else None, message)


def _visible_team(request: HttpRequest, slug: str) -> Team:
    return get_object_or_404(Team.objects.visible_to(_user(request)), slug=slug)


def _readable(request: HttpRequest, pk: int) -> Weeknote:
    weeknote = get_object_or_404(
        Weeknote.objects.select_related("team", "edited_by", "published_by"), pk=pk
    )
    user = _user(request)
    if not can_read(weeknote.team, user):
        raise Http404("No such page.")
    if not weeknote.is_published and not weeknote.team.can_edit(user):
        raise PermissionDenied  # a draft is for the team's leads and members
    return weeknote


def _editable(request: HttpRequest, pk: int) -> Weeknote:
    weeknote = get_object_or_404(Weeknote.objects.select_related("team"), pk=pk)
    user = _user(request)
    if not can_read(weeknote.team, user):
        raise Http404("No such page.")
    if not weeknote.team.can_edit(user):
        raise PermissionDenied
    return weeknote


def _list_context(request: HttpRequest, team: Team, form: DraftForm) -> dict[str, Any]:
    user = _user(request)
    today = timezone.localdate()
    return {
        "nav": "teams",
        "team_obj": team,
        "form": form,
        "this_week": weeknotes.monday_of(today).isoformat(),
        "this_week_text": weeknotes.week_label(weeknotes.monday_of(today)),
        # A private link only for the team's own people: it names them, and stops working
        # when they leave.
        "private_feed": (
            weeknotes.feed_url(user, team) if team.role_of(user) is not None else None
        ),
    }


@require_GET
def weeknote_list(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    team = _visible_team(request, slug)
    data = weeknotes.list_data(team, _user(request))
    form = DraftForm(initial={"week": weeknotes.monday_of(timezone.localdate())})
    context = _list_context(request, team, form) if fmt == Format.HTML else {}
    return respond(request, fmt, "meetings/weeknote_list.html", data, context)


@require_POST
def weeknote_draft(request: HttpRequest, slug: str) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    if not team.can_edit(user):
        raise PermissionDenied
    form = DraftForm(request.POST)
    if form.is_valid():
        day = form.cleaned_data["week"] or timezone.localdate()
        monday = weeknotes.monday_of(day)
        existing = Weeknote.objects.filter(team=team, week=monday).first()
        try:
            weeknote = weeknotes.draft_weeknote(team, monday, by=user)
        except weeknotes.WeeknoteError as error:
            _problems(form, error)
        else:
            if weeknote.is_published:
                messages.info(
                    request, "This week's weeknote is published: it is a record, so it stays."
                )
            elif weeknotes.has_newer_draft(weeknote):
                messages.info(
                    request,
                    "Drafted again from what changed. Your edits are kept; the newer draft is "
                    "below them, to take or leave.",
                )
            elif existing is not None:
                messages.success(request, "Drafted again from what changed.")
            else:
                messages.success(request, "Drafted from what changed. Edit it, then publish.")
            return redirect(weeknote.get_absolute_url())
    data = weeknotes.list_data(team, user)
    context = {**data, **_list_context(request, team, form)}
    return render(request, "meetings/weeknote_list.html", context, status=400)


@require_GET
def weeknote_detail(request: HttpRequest, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    weeknote = _readable(request, pk)
    data = weeknotes.detail_data(weeknote)
    if fmt == Format.JSON:
        return respond(request, fmt, "", data)
    team = weeknote.team
    context = {
        "nav": "teams",
        "team_obj": team,
        "weeknote_obj": weeknote,
        "can_edit": team.can_edit(_user(request)),
        "recipients": len(weeknotes.recipients(team)),
    }
    return respond(request, fmt, "meetings/weeknote_detail.html", data, context)


@require_http_methods(["GET", "POST"])
def weeknote_edit(request: HttpRequest, pk: int) -> HttpResponse:
    weeknote = _editable(request, pk)
    if weeknote.is_published:
        messages.error(request, weeknotes.published_sentence(weeknote))
        return redirect(weeknote.get_absolute_url())
    initial = {"title": weeknote.title, "body": weeknote.body}
    form = WeeknoteForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            weeknotes.edit_weeknote(
                weeknote, _user(request), form.cleaned_data["title"], form.cleaned_data["body"]
            )
        except weeknotes.WeeknoteError as error:
            _problems(form, error)
            status = 400
        else:
            messages.success(request, "Weeknote saved.")
            return redirect(weeknote.get_absolute_url())
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "meetings/weeknote_edit.html",
        {"form": form, "weeknote": weeknote, "team_obj": weeknote.team, "nav": "teams"},
        status=status,
    )


@require_POST
def weeknote_take_draft(request: HttpRequest, pk: int) -> HttpResponse:
    weeknote = _editable(request, pk)
    try:
        weeknotes.take_newer_draft(weeknote, _user(request))
    except weeknotes.WeeknoteError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The newer draft replaced the text; the title stays.")
    return redirect(weeknote.get_absolute_url())


@require_POST
def weeknote_publish(request: HttpRequest, pk: int) -> HttpResponse:
    weeknote = _editable(request, pk)
    try:
        published = weeknotes.publish_weeknote(weeknote, _user(request))
    except weeknotes.WeeknoteError as error:
        messages.error(request, str(error))
        return redirect(weeknote.get_absolute_url())
    count = len(published.emailed)
    if published.email_failed:
        messages.error(request, "Published, but the email could not be sent: ask an administrator.")
    elif count:
        messages.success(
            request, f"Published, and emailed to {count} {'person' if count == 1 else 'people'}."
        )
    else:
        messages.success(request, "Published. Nobody on the team has an email address to send to.")
    return redirect(weeknote.get_absolute_url())


@login_not_required
@require_GET
def weeknote_feed(request: HttpRequest, slug: str) -> HttpResponse:
    """RSS for the team's people: signed in, or with their own private link (a feed reader
    cannot sign in). Anyone else, the same 404 as for a team that does not exist."""
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404("No such page.")
    user = _user(request)
    token = request.GET.get("token", "")
    if not can_read(team, user) and not (token and weeknotes.feed_reader(token, team)):
        raise Http404("No such page.")
    response = HttpResponse(
        weeknotes.feed_xml(team), content_type="application/rss+xml; charset=utf-8"
    )
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
