"""Team and organization pages. Thin: look up, check permission, call a service, render."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from civicloop.core.twins import Format, respond
from civicloop.organizations import api, services
from civicloop.organizations.forms import (
    AddMemberForm,
    ChangeRoleForm,
    OrganizationForm,
    TeamForm,
)
from civicloop.organizations.models import Membership, Organization, Role, Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _visible_team(request: HttpRequest, slug: str) -> Team:
    """The team, or 404 for anyone who may not know it exists."""
    return get_object_or_404(Team.objects.visible_to(_user(request)), slug=slug)


def my_teams(request: HttpRequest, fmt: str = Format.HTML) -> HttpResponse:
    data = api.my_teams_data(_user(request))
    table = (
        "my-teams.csv",
        ["team", "kind", "my role", "purpose"],
        [(t["name"], t["kind"], t["my_role"] or "", t["purpose"]) for t in data["teams"]],
    )
    return respond(request, fmt, "organizations/my_teams.html", data, {"nav": "teams"}, table)


def team_detail(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    memberships = api.team_members(team)
    data = api.team_detail_data(team, memberships, user)
    table = (
        f"{team.slug}-members.csv",
        ["name", "email", "job title", "organization", "role"],
        [
            (m["name"], m["email"], m["job_title"], m["organization"], m["role"])
            for org in data["organizations"]
            for m in org["members"]
        ],
    )
    context = {
        "nav": "teams",
        "team_obj": team,
        "memberships": memberships,
        "my_role": team.role_of(user),
        "can_edit": team.can_edit(user),
        "can_manage": team.can_manage_members(user),
        "roles": Role.choices,
    }
    return respond(request, fmt, "organizations/team_detail.html", data, context, table)


@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, slug: str) -> HttpResponse:
    team = _visible_team(request, slug)
    if not team.can_edit(_user(request)):
        raise PermissionDenied
    form = TeamForm(request.POST or None, instance=team)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Team description saved.")
        return redirect(team)
    return render(
        request, "organizations/team_edit.html", {"team": team, "form": form, "nav": "teams"}
    )


@require_http_methods(["GET", "POST"])
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    team = _visible_team(request, slug)
    if not team.can_manage_members(_user(request)):
        raise PermissionDenied
    form = AddMemberForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        assert form.person is not None  # set by clean_email
        try:
            services.add_member(team, form.person, Role(form.cleaned_data["role"]))
        except services.MembershipError as error:
            form.add_error("email", str(error))
        else:
            messages.success(request, f"{form.person} added to {team}.")
            return redirect(team)
    return render(
        request, "organizations/member_add.html", {"team": team, "form": form, "nav": "teams"}
    )


@require_POST
def member_change(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _visible_team(request, slug)
    if not team.can_manage_members(_user(request)):
        raise PermissionDenied
    membership = get_object_or_404(Membership, team=team, pk=pk)
    try:
        if "remove" in request.POST:
            services.remove_member(membership)
            messages.success(request, f"{membership.person} removed from {team}.")
        else:
            form = ChangeRoleForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose one of the listed roles.")
                return redirect(team)
            services.change_role(membership, Role(form.cleaned_data["role"]))
            messages.success(
                request, f"{membership.person} is now {membership.get_role_display()}."
            )
    except services.MembershipError as error:
        messages.error(request, str(error))
    return redirect(team)


def organization_list(request: HttpRequest, fmt: str = Format.HTML) -> HttpResponse:
    orgs = list(Organization.objects.order_by("kind", "name"))
    data = {"organizations": [api.organization_summary(o) for o in orgs]}
    table = (
        "organizations.csv",
        ["name", "kind", "partner"],
        [(o["name"], o["kind"], "yes" if o["partner"] else "no") for o in data["organizations"]],
    )
    context = {
        "nav": "organizations",
        "departments": [o for o in orgs if not o.is_partner],
        "partners": [o for o in orgs if o.is_partner],
    }
    return respond(request, fmt, "organizations/organization_list.html", data, context, table)


def organization_detail(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    org = get_object_or_404(Organization, slug=slug)
    user = _user(request)
    data = api.organization_detail_data(org, user)
    table = (
        f"{org.slug}-people.csv",
        ["name", "email", "job title"],
        [(p["name"], p["email"], p["job_title"]) for p in data["people"]],
    )
    context = {"nav": "organizations", "org": org, "can_edit": org.can_edit(user)}
    return respond(request, fmt, "organizations/organization_detail.html", data, context, table)


@require_http_methods(["GET", "POST"])
def organization_edit(request: HttpRequest, slug: str) -> HttpResponse:
    org = get_object_or_404(Organization, slug=slug)
    if not org.can_edit(_user(request)):
        raise PermissionDenied
    form = OrganizationForm(request.POST or None, instance=org)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Organization profile saved.")
        return redirect(org)
    return render(
        request,
        "organizations/organization_edit.html",
        {"org": org, "form": form, "nav": "organizations"},
    )
