"""Metric pages. Thin: look up, check permission, call a service, render.

A metric the reader may not see is a 404 (its existence is not revealed); one they see but may
not change is a 403 for the edit pages. Saving checks the definition against the data (its
grain, a ratio's denominator: quick aggregate queries), and leaves computing the series to the
worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from civicloop.core import worker
from civicloop.core.twins import Format, respond
from civicloop.metrics import api, services
from civicloop.metrics.forms import (
    AgreeForm,
    EditDefinitionForm,
    YamlDefinitionForm,
    place_problems,
)
from civicloop.metrics.models import Metric
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _visible(request: HttpRequest, slug: str) -> Metric:
    metrics = Metric.objects.visible_to(_user(request)).select_related(
        "team", "owner", "steward", "dataset__current_version", "current_version"
    )
    return get_object_or_404(metrics.exclude(current_version=None), slug=slug)


def _changeable(request: HttpRequest, slug: str) -> Metric:
    metric = _visible(request, slug)
    if not metric.can_change(_user(request)):
        raise PermissionDenied
    return metric


def _queue_refresh() -> None:
    worker.enqueue_metric_refresh()


def metric_list(request: HttpRequest, fmt: str = Format.HTML) -> HttpResponse:
    user = _user(request)
    data = api.metric_list_data(user)
    table = (
        "metrics.csv",
        [
            "id",
            "name",
            "team",
            "owner",
            "dataset",
            "version",
            "agreement",
            "period",
            "value",
            "unit",
        ],
        [
            (
                m["slug"],
                m["name"],
                m["team"],
                m["owner"],
                m["dataset"],
                m["version"],
                m["agreement"],
                m["latest"]["period"] if m["latest"] else "",
                m["latest"]["value"] if m["latest"] and m["latest"]["value"] is not None else "",
                m["unit"],
            )
            for m in data["metrics"]
        ],
    )
    can_create = any(team.can_edit(user) for team in Team.objects.visible_to(user))
    context = {"nav": "metrics", "can_create": can_create}
    return respond(request, fmt, "metrics/metric_list.html", data, context, table)


def metric_detail(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    metric = _visible(request, slug)
    user = _user(request)
    breakdown, value = request.GET.get("breakdown", ""), request.GET.get("value", "")
    if "series" in request.GET:  # the selector sends "breakdown|value"
        breakdown, _, value = request.GET["series"].partition("|")
    data = api.metric_detail_data(metric, user, breakdown, value)
    svg = data.pop("_svg")
    series = data["series"]
    part = series["value"].lower().replace(" ", "-")
    filename = f"{metric.slug}-{part}.csv" if part else f"{metric.slug}.csv"
    table = (
        filename,
        ["period", "label", "value", "numerator", "denominator", "target"],
        [
            (
                p["period"],
                p["label"],
                _cell(p["value"]),
                _cell(p["numerator"]),
                _cell(p["denominator"]),
                _cell(p["target"]),
            )
            for p in series["points"]
        ],
    )
    context = {
        "nav": "metrics",
        "chart_svg": mark_safe(svg),  # noqa: S308  built by charts.line_svg, which escapes text
        "can_change": metric.can_change(user),
        "agree_form": AgreeForm(),
    }
    return respond(request, fmt, "metrics/metric_detail.html", data, context, table)


def _cell(value: Any) -> Any:
    """Empty for a missing value; floats to 12 significant digits, so a spreadsheet shows
    202749.1, not the 202749.09999999998 that summing floats leaves."""
    if value is None:
        return ""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    return value


def metric_history(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    metric = _visible(request, slug)
    entries = services.history(metric)
    data = {
        "metric": {"slug": metric.slug, "name": metric.name, "url": metric.get_absolute_url()},
        "versions": [
            {
                "number": e["version"].number,
                "at": e["version"].created_at.isoformat(),
                "at_text": f"{timezone.localtime(e['version'].created_at):%d %b %Y, %H:%M}",
                "author": e["version"].author.full_name if e["version"].author else "civicloop",
                "reason": e["version"].reason,
                "current": e["version"].pk == metric.current_version_id,
                "agreed_by": [s.organization.name for s in e["version"].signoffs.all()],
                "changes": [
                    {"field": c.path, "before": c.before, "after": c.after} for c in e["changes"]
                ],
            }
            for e in entries
        ],
    }
    return respond(request, fmt, "metrics/metric_history.html", data, {"nav": "metrics"})


@require_POST
def metric_agree(request: HttpRequest, slug: str) -> HttpResponse:
    metric = _visible(request, slug)
    form = AgreeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Your comment could not be saved: keep it under 2,000 characters.")
        return redirect(metric)
    try:
        signoff = services.agree(metric, _user(request), form.cleaned_data["comment"])
    except services.NotAllowed:
        raise PermissionDenied from None
    except services.MetricError as error:
        messages.error(request, str(error))
        return redirect(metric)
    messages.success(
        request,
        f"{signoff.organization.name} agrees to version {signoff.version.number} of this "
        f"definition. It is now {services.agreement_for(metric).summary}.",
    )
    return redirect(metric)


@require_http_methods(["GET", "POST"])
def metric_edit(request: HttpRequest, slug: str) -> HttpResponse:
    metric = _changeable(request, slug)
    assert metric.current_version is not None
    current = metric.current_version.definition
    form = EditDefinitionForm(request.POST or None, initial=EditDefinitionForm.initial_for(current))
    if (
        request.method == "POST"
        and form.is_valid()
        and _save(request, form, form.merged(current), "reason")
    ):
        return redirect(metric)
    return render(
        request,
        "metrics/metric_edit.html",
        {"nav": "metrics", "metric": metric, "form": form, "mode": "fields"},
    )


@require_http_methods(["GET", "POST"])
def metric_edit_yaml(request: HttpRequest, slug: str) -> HttpResponse:
    metric = _changeable(request, slug)
    assert metric.current_version is not None
    form = YamlDefinitionForm(
        request.POST or None,
        initial=YamlDefinitionForm.initial_for(metric.current_version.definition),
    )
    if request.method == "POST" and form.is_valid():
        data = form.parsed()
        if data is not None:
            if data.get("id") != metric.slug:
                form.add_error(
                    "definition",
                    f"id: keep it as {metric.slug!r}; a metric's id cannot change (create a "
                    "new metric instead).",
                )
            elif _save(request, form, data, "definition"):
                return redirect(metric)
    return render(
        request,
        "metrics/metric_edit.html",
        {"nav": "metrics", "metric": metric, "form": form, "mode": "yaml"},
    )


@require_http_methods(["GET", "POST"])
def metric_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    teams = [t for t in Team.objects.visible_to(user) if t.can_edit(user)]
    if not teams:
        raise PermissionDenied
    example = {
        "id": "my-new-metric",
        "name": "",
        "question": "",
        "team": teams[0].slug,
        "owner": user.organization.slug if user.organization else "",
        "steward": user.email,
        "dataset": "",
        "measure": {"aggregate": "count"},
        "time": {"column": "", "grain": "week"},
        "direction": "neutral",
    }
    form = YamlDefinitionForm(request.POST or None, initial=YamlDefinitionForm.initial_for(example))
    if request.method == "POST" and form.is_valid():
        data = form.parsed()
        if data is not None:
            if Metric.objects.filter(slug=str(data.get("id", ""))).exists():
                form.add_error("definition", f"id: a metric {data.get('id')!r} exists already.")
            else:
                metric = _save(request, form, data, "definition")
                if metric is not None:
                    return redirect(metric)
    return render(request, "metrics/metric_new.html", {"nav": "metrics", "form": form})


def _save(request: HttpRequest, form: Any, data: dict[str, Any], fallback: str) -> Metric | None:
    try:
        metric, version = services.save_definition(
            data, _user(request), form.cleaned_data["reason"]
        )
    except services.NotAllowed:
        raise PermissionDenied from None
    except services.MetricError as error:
        place_problems(form, error.problems, fallback)
        return None
    if version is None:
        messages.info(request, "Nothing changed, so no new version was made.")
    else:
        _queue_refresh()
        messages.success(
            request,
            f"Saved as version {version.number}. Partners are asked to agree to it again; its "
            "numbers are being recomputed.",
        )
    return metric
