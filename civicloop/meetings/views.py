"""Dashboard, meetings, commentary, present mode, actions, follow-up and packs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicloop.core.twins import Format, respond
from civicloop.meetings import api, cache, pack, services
from civicloop.meetings.forms import (
    ActionForm,
    CadenceForm,
    CancelForm,
    CloseActionForm,
    CommentaryForm,
    EndForm,
    ItemForm,
    MeetingForm,
    NoteForm,
    add_problems,
)
from civicloop.meetings.models import (
    Action,
    AgendaItem,
    Cadence,
    Commentary,
    ItemKind,
    Meeting,
    Pack,
)
from civicloop.metrics.models import Metric
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _visible_team(request: HttpRequest, slug: str) -> Team:
    return get_object_or_404(Team.objects.visible_to(_user(request)), slug=slug)


def _editable_team(request: HttpRequest, slug: str) -> Team:
    team = _visible_team(request, slug)
    if not team.can_edit(_user(request)):
        raise PermissionDenied
    return team


def _visible_meeting(request: HttpRequest, pk: int) -> Meeting:
    meeting = get_object_or_404(Meeting.objects.select_related("team", "chair"), pk=pk)
    if not meeting.can_view(_user(request)):
        raise Http404("No such page.")
    return meeting


def _editable_meeting(request: HttpRequest, pk: int) -> Meeting:
    meeting = _visible_meeting(request, pk)
    if not meeting.can_change(_user(request)):
        raise PermissionDenied
    return meeting


def _refused(request: HttpRequest, error: services.MeetingError, back: str) -> HttpResponse:
    messages.error(request, " ".join(message for _, message in error.problems))
    return redirect(back)


def _back(request: HttpRequest, default: str) -> str:
    """Where a form posted from asks to go back to (this site's paths only)."""
    target = request.POST.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default


# --- dashboard ------------------------------------------------------------------------------


@require_GET
def dashboard(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    breakdown, _, value = request.GET.get("series", "").partition("=")
    today = timezone.localdate()
    try:
        data = cache.cached(
            ("dashboard", team.pk, user.pk, breakdown, value),
            today,
            lambda: api.dashboard_data(team, user, breakdown=breakdown, value=value, today=today),
        )
    except services.MeetingError as error:
        if fmt == Format.JSON:
            return JsonResponse({"error": str(error)}, status=400)
        messages.error(request, str(error))
        return redirect(reverse("meetings:dashboard", kwargs={"slug": slug}))
    table = (
        f"{team.slug}-dashboard.csv",
        [
            "metric",
            "series",
            "latest period",
            "latest",
            "target",
            "variation",
            "assurance",
            "attention",
            "freshness",
        ],
        [
            (
                c["name"],
                c["series"],
                c["latest"]["label"] if c["latest"] else "",
                c["latest"]["value"] if c["latest"] else "",
                c["target"] if c["target"] is not None else "",
                c["variation_label"],
                c["assurance_label"],
                "; ".join(r["label"] for r in c["reasons"]),
                c["freshness"],
            )
            for c in data["cards"]
        ],
    )
    context = {"nav": "teams", "team_obj": team, "can_edit": team.can_edit(user)}
    return respond(request, fmt, "meetings/dashboard.html", data, context, table)


# --- meetings -------------------------------------------------------------------------------


@require_GET
def meeting_list(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    data = api.meetings_data(team, user)
    context = {"nav": "teams", "team_obj": team, "can_edit": team.can_edit(user)}
    table = (
        f"{team.slug}-meetings.csv",
        ["day", "starts", "title", "state"],
        [
            (m["on"], m["starts_at"], m["title"], m["state_label"])
            for m in data["upcoming"] + data["past"]
        ],
    )
    return respond(request, fmt, "meetings/meeting_list.html", data, context, table)


@require_http_methods(["GET", "POST"])
def meeting_new(request: HttpRequest, slug: str) -> HttpResponse:
    team = _editable_team(request, slug)
    form = MeetingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = services.schedule(team, _user(request), **form.cleaned_data)
        except services.MeetingError as error:
            add_problems(form, error)
        else:
            messages.success(request, f"Meeting scheduled for {meeting.on:%d %b %Y}.")
            return redirect(meeting)
    return render(
        request,
        "meetings/form.html",
        {
            "nav": "teams",
            "team_obj": team,
            "form": form,
            "title": "Schedule a meeting",
            "submit": "Schedule",
            "back": reverse("meetings:meeting_list", kwargs={"slug": slug}),
        },
    )


@require_http_methods(["GET", "POST"])
def cadence_edit(request: HttpRequest, slug: str) -> HttpResponse:
    team = _editable_team(request, slug)
    cadence = Cadence.objects.filter(team=team).first()
    initial = (
        {
            "every_weeks": cadence.every_weeks,
            "weekday": cadence.weekday,
            "starts_at": cadence.starts_at,
            "minutes": cadence.minutes,
            "first_on": cadence.first_on,
            "location": cadence.location,
        }
        if cadence
        else None
    )
    form = CadenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved, made = services.set_cadence(team, _user(request), **form.cleaned_data)
        except services.MeetingError as error:
            add_problems(form, error)
        else:
            messages.success(
                request,
                f"{saved.label}. {len(made)} meeting{'s' if len(made) != 1 else ''} scheduled "
                "for the next twelve weeks.",
            )
            return redirect(reverse("meetings:meeting_list", kwargs={"slug": slug}))
    return render(
        request,
        "meetings/form.html",
        {
            "nav": "teams",
            "team_obj": team,
            "form": form,
            "title": "How often the team meets",
            "submit": "Save the cadence",
            "back": reverse("meetings:meeting_list", kwargs={"slug": slug}),
        },
    )


def _meeting_context(meeting: Meeting, user: User) -> dict[str, Any]:
    team = meeting.team
    return {
        "nav": "teams",
        "team_obj": team,
        "meeting": meeting,
        "can_edit": meeting.can_change(user),
        "note_form": NoteForm(meeting=meeting, auto_id="note_%s"),
        "action_form": ActionForm(team=team, meeting=meeting, auto_id="action_%s"),
        "cancel_form": CancelForm(),
        "previous": services.previous_meeting(meeting),
    }


@require_GET
def meeting_detail(request: HttpRequest, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    meeting = _visible_meeting(request, pk)
    user = _user(request)
    data = api.meeting_data(meeting, user)
    table = (
        f"meeting-{meeting.pk}-agenda.csv",
        ["position", "kind", "item", "why", "source"],
        [
            (i["position"], i["kind_label"], i["title"], i["reason"], i["source_label"])
            for i in data["items"]
        ],
    )
    return respond(
        request, fmt, "meetings/meeting_detail.html", data, _meeting_context(meeting, user), table
    )


@require_POST
def agenda_draft(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    try:
        drafted = services.draft_agenda(meeting, _user(request))
    except services.MeetingError as error:
        return _refused(request, error, meeting.get_absolute_url())
    n = len(drafted.added)
    messages.success(
        request,
        f"Agenda drafted from the data: {n} item{'s' if n != 1 else ''} added"
        + (f", {drafted.kept} kept." if drafted.kept else "."),
    )
    return redirect(meeting)


@require_http_methods(["GET", "POST"])
def item_new(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    user = _user(request)
    form = ItemForm(request.POST or None, team=meeting.team, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_item(meeting, user, **form.cleaned_data)
        except services.MeetingError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Item added to the agenda.")
            return redirect(meeting)
    return render(
        request,
        "meetings/form.html",
        {
            "nav": "teams",
            "team_obj": meeting.team,
            "form": form,
            "title": "Add an agenda item",
            "submit": "Add",
            "back": meeting.get_absolute_url(),
            "meeting": meeting,
        },
    )


def _item(meeting: Meeting, item: int) -> AgendaItem:
    return get_object_or_404(AgendaItem, pk=item, meeting=meeting)


@require_POST
def item_remove(request: HttpRequest, pk: int, item: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    try:
        services.remove_item(_item(meeting, item), _user(request))
    except services.MeetingError as error:
        return _refused(request, error, meeting.get_absolute_url())
    messages.success(request, "Item removed from the agenda.")
    return redirect(meeting)


@require_POST
def item_move(request: HttpRequest, pk: int, item: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    direction = -1 if request.POST.get("direction") == "up" else 1
    try:
        services.move_item(_item(meeting, item), _user(request), direction)
    except services.MeetingError as error:
        return _refused(request, error, meeting.get_absolute_url())
    return redirect(f"{meeting.get_absolute_url()}#item-{item}")


@require_POST
def meeting_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    form = CancelForm(request.POST)
    form.is_valid()
    try:
        services.cancel(meeting, _user(request), form.cleaned_data.get("reason", ""))
    except services.MeetingError as error:
        return _refused(request, error, meeting.get_absolute_url())
    messages.success(request, "Meeting cancelled.")
    return redirect(meeting)


# --- commentary -----------------------------------------------------------------------------


@require_POST
def commentary_request(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    try:
        asked = services.request_commentary(meeting, _user(request))
    except services.MeetingError as error:
        return _refused(request, error, meeting.get_absolute_url())
    if asked:
        n = sum(len(v) for v in asked.values())
        messages.success(
            request,
            f"Commentary asked for {n} metric{'s' if n != 1 else ''}, by email to "
            f"{len(asked)} {'person' if len(asked) == 1 else 'people'}.",
        )
    else:
        messages.info(request, "Everyone has already been asked for this meeting's commentary.")
    return redirect(meeting)


@require_GET
def commentary_list(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _visible_meeting(request, pk)
    user = _user(request)
    metrics = [
        i.metric
        for i in meeting.items.filter(kind=ItemKind.METRIC).select_related("metric__steward")
        if i.metric and i.metric.can_view(user)
    ]
    entries = {
        c.metric_id: c for c in meeting.commentaries.select_related("author", "requested_of")
    }
    rows = []
    for metric in dict.fromkeys(metrics):
        entry = entries.get(metric.pk) or Commentary(meeting=meeting, metric=metric)
        rows.append({"metric": metric, "entry": entry, "can_write": entry.can_write(user)})
    return render(
        request,
        "meetings/commentary_list.html",
        {"nav": "teams", "team_obj": meeting.team, "meeting": meeting, "rows": rows},
    )


@require_http_methods(["GET", "POST"])
def commentary_write(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    meeting = _visible_meeting(request, pk)
    user = _user(request)
    metric = get_object_or_404(Metric, slug=slug, team=meeting.team)
    if not metric.can_view(user):
        raise Http404("No such page.")
    entry = Commentary.objects.filter(meeting=meeting, metric=metric).first()
    if not (entry or Commentary(meeting=meeting, metric=metric)).can_write(user):
        raise PermissionDenied
    form = CommentaryForm(request.POST or None, initial={"text": entry.text if entry else ""})
    if request.method == "POST" and form.is_valid():
        try:
            services.write_commentary(meeting, metric, user, form.cleaned_data["text"])
        except services.MeetingError as error:
            add_problems(form, error)
        else:
            messages.success(request, f"Commentary on {metric.name} saved.")
            return redirect(reverse("meetings:commentary_list", kwargs={"pk": meeting.pk}))
    from civicloop.improvement.charts import metric_chart

    return render(
        request,
        "meetings/commentary_form.html",
        {
            "nav": "teams",
            "team_obj": meeting.team,
            "meeting": meeting,
            "metric": metric,
            "form": form,
            "drawn": metric_chart(metric, user),
        },
    )


# --- in the meeting -------------------------------------------------------------------------


@require_GET
def present(request: HttpRequest, pk: int) -> HttpResponse:
    """One item per screen with its chart large; arrow keys move between items."""
    from civicloop.improvement.charts import metric_chart

    meeting = _visible_meeting(request, pk)
    user = _user(request)
    data = api.meeting_data(meeting, user)
    items = list(meeting.items.select_related("metric", "a3", "key_result", "action__owner"))
    commentary = {c.metric_id: c for c in meeting.commentaries.select_related("author")}
    slides = []
    for row, item in zip(data["items"], items, strict=True):
        slide: dict[str, Any] = {**row}
        if item.metric and item.metric.can_view(user):
            slide["drawn"] = metric_chart(
                item.metric,
                user,
                breakdown=item.breakdown,
                value=item.value,
                width=1100,
                height=380,
            )
            c = commentary.get(item.metric.pk)
            slide["commentary_text"] = c.text if c and c.is_written else ""
            slide["commentary_author"] = c.author.full_name if c and c.author else ""
        elif item.metric:
            slide["withheld"] = True
        slides.append(slide)
    for n, slide in enumerate(slides):
        slide["prev_id"] = slides[n - 1]["id"] if n > 0 else None
        slide["next_id"] = slides[n + 1]["id"] if n + 1 < len(slides) else None
    return render(
        request,
        "meetings/present.html",
        {
            **data,
            "meeting": meeting,
            "slides": slides,
            "can_edit": meeting.can_change(user),
            "note_form": NoteForm(meeting=meeting),
            "action_form": ActionForm(team=meeting.team, meeting=meeting),
            "team_obj": meeting.team,
        },
    )


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _problems_text(form: Any) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _form_problems(form: Any) -> dict[str, list[str]]:
    return {name or "__all__": [str(e) for e in errors] for name, errors in form.errors.items()}


@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    form = NoteForm(request.POST, meeting=meeting)
    back = _back(request, meeting.get_absolute_url())
    if form.is_valid():
        try:
            note = services.add_note(meeting, _user(request), **form.cleaned_data)
        except services.MeetingError as error:
            add_problems(form, error)
        else:
            if _wants_json(request):
                return JsonResponse(
                    {
                        "ok": True,
                        "kind": note.get_kind_display(),
                        "text": note.text,
                        "author": note.author.full_name if note.author else "",
                    }
                )
            messages.success(request, f"{note.get_kind_display()} noted.")
            return redirect(back)
    if _wants_json(request):
        return JsonResponse({"ok": False, "errors": _form_problems(form)}, status=400)
    messages.error(request, "Not saved: " + _problems_text(form))
    return redirect(back)


@require_POST
def action_add(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    form = ActionForm(request.POST, team=meeting.team, meeting=meeting)
    back = _back(request, meeting.get_absolute_url())
    if form.is_valid():
        try:
            action = services.add_action(
                meeting.team, _user(request), meeting=meeting, **form.cleaned_data
            )
        except services.MeetingError as error:
            add_problems(form, error)
        else:
            if _wants_json(request):
                return JsonResponse(
                    {
                        "ok": True,
                        "text": action.text,
                        "owner": action.owner.full_name,
                        "due_on": f"{action.due_on:%d %b %Y}",
                    }
                )
            messages.success(request, f"Action for {action.owner.full_name} captured.")
            return redirect(back)
    if _wants_json(request):
        return JsonResponse({"ok": False, "errors": _form_problems(form)}, status=400)
    messages.error(
        request,
        "Action not saved: "
        + _problems_text(form)
        + " Nothing was saved; fill in the action again.",
    )
    return redirect(back)


@require_http_methods(["GET", "POST"])
def meeting_end(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    form = EndForm(request.POST or None, team=meeting.team)
    if request.method == "POST" and form.is_valid():
        try:
            services.end(meeting, _user(request), form.cleaned_data["attendees"])
        except services.MeetingError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Meeting marked as held. Send the follow-up next.")
            return redirect(reverse("meetings:follow_up", kwargs={"pk": meeting.pk}))
    return render(
        request,
        "meetings/form.html",
        {
            "nav": "teams",
            "team_obj": meeting.team,
            "form": form,
            "meeting": meeting,
            "title": "End the meeting: who attended",
            "submit": "Mark as held",
            "back": meeting.get_absolute_url(),
        },
    )


# --- actions --------------------------------------------------------------------------------


@require_GET
def action_list(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    data = api.actions_data(team, user)
    table = (
        f"{team.slug}-actions.csv",
        ["action", "owner", "due", "status", "raised at", "linked to", "closed", "note"],
        [
            (
                a["text"],
                a["owner"],
                a["due_on"],
                a["status"],
                a["raised_at"]["on"] if a["raised_at"] else "",
                a["link"]["title"] if a["link"] else "",
                a["done_on"] or a["dropped_on"] or "",
                a["closing_note"],
            )
            for a in data["open"] + data["closed"]
        ],
    )
    context = {
        "nav": "teams",
        "team_obj": team,
        "can_edit": team.can_edit(user),
        "form": ActionForm(team=team),
        "close_form": CloseActionForm(),
    }
    return respond(request, fmt, "meetings/action_list.html", data, context, table)


@require_http_methods(["GET", "POST"])
def team_action_new(request: HttpRequest, slug: str) -> HttpResponse:
    team = _editable_team(request, slug)
    form = ActionForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_action(team, _user(request), **form.cleaned_data)
        except services.MeetingError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Action added.")
            return redirect(reverse("meetings:action_list", kwargs={"slug": slug}))
    return render(
        request,
        "meetings/form.html",
        {
            "nav": "teams",
            "team_obj": team,
            "form": form,
            "title": "New action",
            "submit": "Add the action",
            "back": reverse("meetings:action_list", kwargs={"slug": slug}),
        },
    )


def _visible_action(request: HttpRequest, pk: int) -> Action:
    action = get_object_or_404(Action.objects.select_related("team", "owner"), pk=pk)
    if action.team.role_of(_user(request)) is None and not _user(request).is_superuser:
        raise Http404("No such page.")
    return action


@require_POST
def action_close(request: HttpRequest, pk: int) -> HttpResponse:
    action = _visible_action(request, pk)
    user = _user(request)
    if not action.can_close(user):
        raise PermissionDenied
    back = _back(request, reverse("meetings:action_list", kwargs={"slug": action.team.slug}))
    form = CloseActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose done or dropped.")
        return redirect(back)
    try:
        services.close_action(
            action,
            user,
            done=form.cleaned_data["outcome"] == "done",
            note=form.cleaned_data["closing_note"],
        )
    except services.MeetingError as error:
        return _refused(request, error, back)
    messages.success(request, f"“{action.text}” is {action.status}.")
    return redirect(back)


@require_POST
def action_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    action = _visible_action(request, pk)
    user = _user(request)
    if not action.can_close(user):
        raise PermissionDenied
    services.reopen_action(action, user)
    messages.success(request, f"“{action.text}” is open again.")
    return redirect(
        _back(request, reverse("meetings:action_list", kwargs={"slug": action.team.slug}))
    )


# --- after the meeting ----------------------------------------------------------------------


@require_GET
def follow_up(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _visible_meeting(request, pk)
    data = services.follow_up_data(meeting)
    return render(
        request,
        "meetings/follow_up.html",
        {
            **data,
            "nav": "teams",
            "team_obj": meeting.team,
            "can_edit": meeting.can_change(_user(request)),
        },
    )


@require_POST
def follow_up_send(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    try:
        to = services.send_follow_up(meeting, _user(request))
    except services.MeetingError as error:
        return _refused(request, error, reverse("meetings:follow_up", kwargs={"pk": pk}))
    messages.success(
        request, f"Follow-up sent to {len(to)} {'person' if len(to) == 1 else 'people'}."
    )
    return redirect(reverse("meetings:follow_up", kwargs={"pk": pk}))


# --- packs ----------------------------------------------------------------------------------


def _pack_response(
    request: HttpRequest,
    snapshot: dict[str, Any],
    fmt: str,
    links: dict[str, str],
    issued: Pack | None = None,
) -> HttpResponse:
    user = _user(request)
    if fmt == "pdf":
        try:
            body = (
                pack.issued_pdf(issued, reader=user)
                if issued is not None
                else pack.render_pdf(snapshot, reader=user)
            )
        except pack.PdfUnavailable as error:
            return render(
                request, "meetings/pdf_unavailable.html", {"error": str(error)}, status=503
            )
        response = HttpResponse(body, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{pack.filename(snapshot)}.pdf"'
        return response
    return HttpResponse(pack.render_html(snapshot, reader=user, links=links))


@require_GET
def pack_draft(request: HttpRequest, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    """The pack as it would be issued now (live data, marked as a draft)."""
    meeting = _visible_meeting(request, pk)
    snapshot, _ = pack.build_snapshot(meeting, _user(request))
    return _pack_response(request, snapshot, fmt, {"meeting": meeting.get_absolute_url()})


@require_POST
def pack_issue(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _editable_meeting(request, pk)
    try:
        issued = pack.issue(meeting, _user(request))
    except services.MeetingError as error:
        return _refused(request, error, meeting.get_absolute_url())
    messages.success(
        request,
        f"Pack {issued.number} issued as of {issued.as_of:%d %b %Y}: it will not change when "
        "the data is refreshed.",
    )
    return redirect(issued)


def _visible_pack(request: HttpRequest, pk: int) -> Pack:
    issued = get_object_or_404(Pack.objects.select_related("meeting__team"), pk=pk)
    if not issued.meeting.can_view(_user(request)):
        raise Http404("No such page.")
    return issued


@require_GET
def pack_detail(request: HttpRequest, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    issued = _visible_pack(request, pk)
    if fmt == Format.JSON:
        return JsonResponse(
            {
                "id": issued.pk,
                "meeting": issued.meeting_id,
                "number": issued.number,
                "as_of": issued.as_of.isoformat(),
                "issued_at": timezone.localtime(issued.issued_at).isoformat(),
                "issued_by": issued.issued_by.full_name if issued.issued_by else None,
                "digest": issued.digest,
                "sources": issued.sources,
            },
            json_dumps_params={"indent": 2},
        )
    return _pack_response(
        request,
        issued.snapshot,
        fmt,
        {
            "meeting": issued.meeting.get_absolute_url(),
            "pdf": reverse("meetings:pack_pdf", kwargs={"pk": pk}),
        },
        issued,
    )
