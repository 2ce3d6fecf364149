"""OKR pages. Thin: look up what the person may see (404 otherwise), check they may change it
(403 otherwise), hand the input to a service, render its answer or its refusal."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from civicloop.core.twins import Format, respond
from civicloop.okrs import api, export, services
from civicloop.okrs.forms import (
    CheckInForm,
    KeyResultEditForm,
    KeyResultForm,
    MissionEditForm,
    MissionForm,
    ObjectiveEditForm,
    ObjectiveForm,
    PolicyForm,
    QuarterCloseForm,
    add_problems,
)
from civicloop.okrs.models import (
    KeyResult,
    Mission,
    Objective,
    is_city_leader,
    policy_for,
)
from civicloop.okrs.quarters import Quarter, year_of
from civicloop.organizations.models import Role, Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _today() -> date:
    return timezone.localdate()


class BadInput(Exception):
    pass


def _bad(request: HttpRequest, fmt: str, message: str) -> HttpResponse:
    if fmt in (Format.JSON, Format.CSV):
        return JsonResponse({"error": message}, status=400)
    return render(request, "okrs/bad_request.html", {"message": message, "nav": "okrs"}, status=400)


def _quarter(request: HttpRequest) -> Quarter:
    raw = request.GET.get("quarter", "").strip()
    if not raw:
        return Quarter.containing(_today())
    try:
        return Quarter.parse(raw)
    except ValueError as error:
        raise BadInput(f"quarter: {error}") from None


def _visible_team(request: HttpRequest, slug: str) -> Team:
    return get_object_or_404(Team.objects.visible_to(_user(request)), slug=slug)


def _visible_objective(request: HttpRequest, pk: int) -> Objective:
    objective = get_object_or_404(
        Objective.objects.select_related("team", "mission", "owner"), pk=pk
    )
    if not objective.can_view(_user(request)):
        raise Http404("No such page.")
    return objective


def _visible_kr(request: HttpRequest, pk: int) -> KeyResult:
    kr = get_object_or_404(
        KeyResult.objects.select_related("team", "objective", "objective__team", "metric", "owner"),
        pk=pk,
    )
    if not kr.can_view(_user(request)):
        raise Http404("No such page.")
    return kr


# --- organization-wide ----------------------------------------------------------------------


def tree(request: HttpRequest, fmt: str = Format.HTML) -> HttpResponse:
    try:
        quarter = _quarter(request)
    except BadInput as error:
        return _bad(request, fmt, str(error))
    user = _user(request)
    data = api.tree_data(user, quarter)
    table = (f"okrs-{quarter.code}.csv", api.TREE_CSV_HEADER, api.tree_csv_rows(data))
    context = {
        "nav": "okrs",
        "can_add_mission": is_city_leader(user),
        "my_teams": [
            {"slug": t.slug, "name": t.name} for t in Team.objects.visible_to(user).order_by("name")
        ],
    }
    return respond(request, fmt, "okrs/tree.html", data, context, table)


def changes(request: HttpRequest, fmt: str = Format.HTML) -> HttpResponse:
    user = _user(request)
    raw = request.GET.get("since", "").strip()
    today = _today()
    since = api.default_since(today)
    if raw:
        try:
            since = date.fromisoformat(raw)
        except ValueError:
            return _bad(
                request, fmt, f"since: “{raw}” is not a date; write it as YYYY-MM-DD, e.g. {since}."
            )
    team = None
    if request.GET.get("team"):
        team = Team.objects.visible_to(user).filter(slug=request.GET["team"]).first()
        if team is None:
            return _bad(request, fmt, f"team: there is no team “{request.GET['team']}” you are in.")
    data = api.changes_data(user, since, team)
    table = (
        f"okr-changes-since-{since}.csv",
        ["at", "who", "team", "action", "subject", "what changed", "why"],
        [
            (
                c["at"],
                c["who"],
                c["team"],
                c["action_label"],
                c["subject"],
                "; ".join(f"{d['field']}: {d['before']} → {d['after']}" for d in c["changes"]),
                c["reason"],
            )
            for c in data["changes"]
        ],
    )
    return respond(request, fmt, "okrs/changes.html", data, {"nav": "okrs"}, table)


def report(request: HttpRequest, kind: str = "html") -> HttpResponse:
    """One page for a cabinet or scrutiny report: HTML to print, or PDF."""
    user = _user(request)
    try:
        quarter = _quarter(request)
    except BadInput as error:
        return _bad(request, Format.HTML, str(error))
    team = None
    if request.GET.get("team"):
        team = _visible_team(request, request.GET["team"])
    data = export.report_data(user, quarter, team, full=request.GET.get("full") == "1")
    if kind == "pdf":
        try:
            pdf = export.render_pdf(data)
        except export.PdfUnavailable as error:
            return _bad(request, Format.HTML, str(error))
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{export.filename(data)}.pdf"'
        return response
    return HttpResponse(export.render_html(data))


# --- missions -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def mission_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not is_city_leader(user):
        raise PermissionDenied
    form = MissionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            mission = services.save_mission(user, form.cleaned_data)
        except services.OkrError as error:
            add_problems(form, error)
        else:
            messages.success(request, f"Mission “{mission.title}” added.")
            return redirect(mission.get_absolute_url())
    return render(request, "okrs/mission_form.html", {"form": form, "nav": "okrs"})


def mission_detail(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    mission = get_object_or_404(Mission, slug=slug)
    user = _user(request)
    raw_year = request.GET.get("year", "").strip()
    if raw_year and not (raw_year.isdigit() and len(raw_year) == 4):
        return _bad(request, fmt, "year: give the OKR year as four digits, e.g. 2026.")
    year = int(raw_year) if raw_year else year_of(_today())
    objectives = [
        o
        for o in Objective.objects.filter(mission=mission, year=year).select_related("team")
        if o.can_view(user)
    ]
    data = {
        "slug": mission.slug,
        "title": mission.title,
        "public_value": mission.public_value,
        "description": mission.description,
        "active": mission.is_active,
        "year": year,
        "objectives": [
            {"id": o.pk, "title": o.title, "team": o.team.name, "url": o.get_absolute_url()}
            for o in objectives
        ],
        "history": _mission_history(mission),
    }
    context = {"nav": "okrs", "can_change": mission.can_change(user)}
    return respond(request, fmt, "okrs/mission_detail.html", data, context)


def _mission_history(mission: Mission) -> list[dict[str, Any]]:
    from civicloop.okrs.models import Change

    return [
        api.change_row(c)
        for c in Change.objects.filter(mission=mission, objective=None).select_related("who")
    ]


@require_http_methods(["GET", "POST"])
def mission_edit(request: HttpRequest, slug: str) -> HttpResponse:
    mission = get_object_or_404(Mission, slug=slug)
    user = _user(request)
    if not mission.can_change(user):
        raise PermissionDenied
    initial = {
        "title": mission.title,
        "public_value": mission.public_value,
        "description": mission.description,
        "is_active": mission.is_active,
    }
    form = MissionEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_mission(user, form.cleaned_data, mission, form.cleaned_data["reason"])
        except services.OkrError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Mission saved.")
            return redirect(mission.get_absolute_url())
    return render(
        request, "okrs/mission_form.html", {"form": form, "mission": mission, "nav": "okrs"}
    )


# --- a team's OKRs --------------------------------------------------------------------------


def team_okrs(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    try:
        quarter = _quarter(request)
    except BadInput as error:
        return _bad(request, fmt, str(error))
    data = api.team_okrs_data(team, quarter, user, _today())
    table = (
        f"{team.slug}-okrs-{quarter.code}.csv",
        api.TREE_CSV_HEADER,
        api.tree_csv_rows(
            {"missions": [{"title": o["mission"], "objectives": [o]} for o in data["objectives"]]}
        ),
    )
    role = team.role_of(user)
    context = {
        "nav": "teams",
        "can_add_objective": services.may_create_objective(user, team),
        "can_edit": user.is_superuser or (role is not None and role.can_edit),
        "can_close": team.can_manage_members(user) and not data["closed"],
    }
    return respond(request, fmt, "okrs/team_okrs.html", data, context, table)


@require_http_methods(["GET", "POST"])
def team_governance(request: HttpRequest, slug: str) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    if not team.can_manage_members(user):
        raise PermissionDenied
    policy = policy_for(team)
    form = PolicyForm(
        request.POST or None,
        initial={
            "objectives_changed_by": policy.objectives_changed_by,
            "checkin_every_days": policy.checkin_every_days,
        },
    )
    if request.method == "POST" and form.is_valid():
        services.save_policy(
            user,
            team,
            form.cleaned_data["objectives_changed_by"],
            form.cleaned_data["checkin_every_days"],
        )
        messages.success(request, "OKR governance saved.")
        return redirect("okrs:team_okrs", slug=team.slug)
    return render(request, "okrs/governance.html", {"form": form, "team": team, "nav": "teams"})


@require_http_methods(["GET", "POST"])
def quarter_close(request: HttpRequest, slug: str, quarter: str) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    if not team.can_manage_members(user):
        raise PermissionDenied
    try:
        period = Quarter.parse(quarter)
    except ValueError as error:
        return _bad(request, Format.HTML, f"quarter: {error}")
    krs = list(
        KeyResult.objects.filter(team=team, year=period.year, quarter=period.number)
        .select_related("objective", "metric")
        .order_by("pk")
    )
    closed = services.is_quarter_closed(team, period)
    form = QuarterCloseForm(request.POST or None, key_results=krs, last_of_year=period.number == 4)
    if request.method == "POST" and closed is None and form.is_valid():
        decisions = {
            kr.pk: services.Decision(
                form.cleaned_data.get(f"kr-{kr.pk}-score", ""),
                form.cleaned_data.get(f"kr-{kr.pk}-outcome", ""),
                form.cleaned_data.get(f"kr-{kr.pk}-note", ""),
            )
            for kr in krs
        }
        try:
            services.close_quarter(
                user, team, period, form.cleaned_data["reflection"], decisions, _today()
            )
        except services.OkrError as error:
            add_problems(form, error)
        else:
            messages.success(request, f"{period.label} closed. Its record is now read-only.")
            return redirect(f"/teams/{team.slug}/okrs/?quarter={period.code}")
    context = {
        "form": form,
        "team": team,
        "quarter": period,
        "closed": closed,
        "nav": "teams",
        "rows": form.rows(),
        "early": _today() < period.end,
    }
    return render(request, "okrs/quarter_close.html", context)


# --- objectives -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def objective_new(request: HttpRequest, slug: str) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    if not services.may_create_objective(user, team):
        raise PermissionDenied
    initial = {"year": str(year_of(_today())), "owner": user}
    form = ObjectiveForm(request.POST or None, team=team, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            objective = services.create_objective(user, team, form.values())
        except services.OkrError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Objective added. Now add its key results for the quarter.")
            return redirect(objective.get_absolute_url())
    return render(request, "okrs/objective_form.html", {"form": form, "team": team, "nav": "teams"})


def objective_detail(request: HttpRequest, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    objective = _visible_objective(request, pk)
    user = _user(request)
    data = api.objective_detail_data(objective, user)
    context = {
        "nav": "okrs",
        "can_change": objective.can_change(user),
        "can_add_key_result": bool(_kr_teams(objective, user)),
        "in_team": _in_team(objective.team, user),
    }
    return respond(request, fmt, "okrs/objective_detail.html", data, context)


def _in_team(team: Team, user: User) -> bool:
    """Whether the team's own pages are there for this person (links to them are not, else)."""
    return user.is_superuser or team.role_of(user) is not None


@require_http_methods(["GET", "POST"])
def objective_edit(request: HttpRequest, pk: int) -> HttpResponse:
    objective = _visible_objective(request, pk)
    user = _user(request)
    if not objective.can_change(user):
        raise PermissionDenied
    initial = {
        "mission": objective.mission.slug,
        "year": str(objective.year),
        "title": objective.title,
        "description": objective.description,
        "owner": objective.owner,
        "partner_teams": list(objective.partner_teams.all()),
        "is_private": objective.is_private,
    }
    form = ObjectiveEditForm(request.POST or None, team=objective.team, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_objective(user, objective, form.values(), form.cleaned_data["reason"])
        except services.OkrError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Objective saved; the change is in its history.")
            return redirect(objective.get_absolute_url())
    return render(
        request,
        "okrs/objective_form.html",
        {"form": form, "team": objective.team, "objective": objective, "nav": "okrs"},
    )


# --- key results ----------------------------------------------------------------------------


def _kr_teams(objective: Objective, user: User) -> list[Team]:
    """Teams this person may add a key result for under this objective."""
    teams = (
        Team.objects.all()
        if user.is_superuser
        else Team.objects.filter(
            memberships__person=user, memberships__role__in=(Role.LEAD, Role.MEMBER)
        )
    )
    teams = teams.filter(pk__in=[t.pk for t in objective.teams()])
    found = list(teams.distinct().order_by("name"))
    # The objective's own team first: most key results are its own.
    found.sort(key=lambda t: t.pk != objective.team_id)
    return found


@require_http_methods(["GET", "POST"])
def kr_new(request: HttpRequest, pk: int) -> HttpResponse:
    objective = _visible_objective(request, pk)
    user = _user(request)
    teams = _kr_teams(objective, user)
    if not teams:
        raise PermissionDenied
    quarter = Quarter.containing(_today())
    initial = {
        "team": teams[0],
        "owner": user,
        "quarter": quarter.code if quarter.year == objective.year else f"{objective.year}-Q1",
        "weight": "1",
        "decimals": "0",
    }
    form = KeyResultForm(
        request.POST or None, objective=objective, user=user, teams=teams, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        values = form.values()
        team = values.pop("team")
        try:
            kr = services.create_key_result(user, objective, team, values)
        except services.OkrError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Key result added.")
            return redirect(kr.get_absolute_url())
    return render(
        request,
        "okrs/kr_form.html",
        {"form": form, "objective": objective, "nav": "okrs"},
    )


def kr_detail(request: HttpRequest, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    kr = _visible_kr(request, pk)
    user = _user(request)
    data = api.kr_detail_data(kr, user)
    trend = data.pop("_trend")
    data.pop("confidences")
    row = data["key_result"]
    table = (
        f"key-result-{kr.pk}-check-ins.csv",
        ["at", "author", "value", "from metric", "confidence", "note"],
        [
            (c["at"], c["author"], c["value"], c["from_metric"], c["confidence_label"], c["note"])
            for c in row["checkins"]
        ],
    )
    closed = row["closed"]
    context = {
        "nav": "okrs",
        "in_team": _in_team(kr.team, user),
        # Built by okrs.trend from numbers and dates; its one text, the label, is escaped.
        "trend": trend,
        "can_change": kr.can_change(user) and not closed,
        "checkin_form": CheckInForm(key_result=kr),
    }
    return respond(request, fmt, "okrs/kr_detail.html", data, context, table)


@require_http_methods(["GET", "POST"])
def kr_edit(request: HttpRequest, pk: int) -> HttpResponse:
    kr = _visible_kr(request, pk)
    user = _user(request)
    if not kr.can_change(user):
        raise PermissionDenied
    closed = services.is_quarter_closed(kr.team, kr.period)
    if closed is not None:
        messages.error(request, services.closed_sentence(kr.team, closed))
        return redirect(kr.get_absolute_url())
    teams = [kr.team]
    form = KeyResultEditForm(
        request.POST or None,
        objective=kr.objective,
        user=user,
        teams=teams,
        initial=KeyResultEditForm.initial_for(kr),
    )
    if request.method == "POST" and form.is_valid():
        values = form.values()
        values.pop("team")
        reason = values.pop("reason")
        try:
            services.change_key_result(user, kr, values, reason)
        except services.OkrError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Key result saved; the change is in its history.")
            return redirect(kr.get_absolute_url())
    return render(
        request,
        "okrs/kr_form.html",
        {"form": form, "objective": kr.objective, "key_result": kr, "nav": "okrs"},
    )


@require_POST
def kr_checkin(request: HttpRequest, pk: int) -> HttpResponse:
    kr = _visible_kr(request, pk)
    user = _user(request)
    if not kr.can_change(user):
        raise PermissionDenied
    form = CheckInForm(request.POST, key_result=kr)
    if form.is_valid():
        try:
            services.check_in(
                user,
                kr,
                confidence=form.cleaned_data["confidence"],
                note=form.cleaned_data.get("note", ""),
                value=form.cleaned_data.get("value"),
                done=form.cleaned_data.get("done"),
            )
        except services.OkrError as error:
            add_problems(form, error)
        else:
            messages.success(request, "Checked in. Thank you.")
            return redirect(kr.get_absolute_url())
    data = api.kr_detail_data(kr, user)
    trend = data.pop("_trend")
    data.pop("confidences")
    context = {
        **data,
        "nav": "okrs",
        "in_team": _in_team(kr.team, user),
        "trend": trend,
        "can_change": not data["key_result"]["closed"],
        "checkin_form": form,
    }
    return render(request, "okrs/kr_detail.html", context, status=400)
