"""Metric pages. Thin: look up, check permission, call a service, render.

A metric the reader may not see is a 404 (its existence is not revealed); one they see but may
not change is a 403 for the edit pages. Saving checks the definition against the data (its
grain, a ratio's denominator: quick aggregate queries), and leaves computing the series to the
worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from django.conf import settings
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
from civicloop.metrics import spc as metric_spc
from civicloop.metrics.forms import (
    AgreeForm,
    AnnotationForm,
    EditDefinitionForm,
    YamlDefinitionForm,
    place_problems,
)
from civicloop.metrics.models import Annotation, Metric
from civicloop.organizations.models import Team
from civicloop.spc import chart as spc_chart

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
            "variation",
            "assurance",
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
                m["variation"] or "",
                m["assurance"] or "",
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
    spec_json = data.pop("_spec_json")
    series = data["series"]
    part = series["value"].lower().replace(" ", "-")
    filename = f"{metric.slug}-{part}.csv" if part else f"{metric.slug}.csv"
    table = (
        filename,
        [
            "period",
            "label",
            "value",
            "numerator",
            "denominator",
            "target",
            "mean",
            "lower_limit",
            "upper_limit",
            "type",
        ],
        [
            (
                p["period"],
                p["label"],
                _cell(p["value"]),
                _cell(p["numerator"]),
                _cell(p["denominator"]),
                _cell(p["target"]),
                _cell(p["mean"]),
                _cell(p["lpl"]),
                _cell(p["upl"]),
                p["type"] or "",
            )
            for p in series["points"]
        ],
    )
    context = {
        "nav": "metrics",
        # Vega's SVG renderer (through vl-convert) escapes every text it draws.
        "chart_svg": mark_safe(metric_spc.chart_svg(spec_json)),  # noqa: S308
        "spec": data["chart"]["vega_lite"],
        "can_change": metric.can_change(user),
        "can_annotate": metric.can_annotate(user),
        "pending_rebases": _pending_rebases(metric, user),
        "agree_form": AgreeForm(),
        "annotation_form": AnnotationForm(
            initial={
                "on": request.GET.get("event_on", ""),
                "text": request.GET.get("event_text", ""),
            }
        ),
        "series_query": _series_query(series),
    }
    return respond(request, fmt, "metrics/metric_detail.html", data, context, table)


def _pending_rebases(metric: Metric, user: User) -> list[Any]:
    """Adopted PDSA cycles waiting for this steward to rebase the metric's chart."""
    if not metric.can_change(user):
        return []
    from civicloop.improvement.services import pending_rebases

    cycles = pending_rebases(user, metric=metric)
    return [
        {
            "pk": c.pk,
            "number": c.number,
            "started_on": c.started_on,
            "started_text": f"{c.started_on:%d %b %Y}" if c.started_on else "",
            "verdict": c.verdict.get("headline", ""),
            # The A3 is named only to a steward who may read it.
            "a3": c.countermeasure.a3.title if c.countermeasure.a3.can_view(user) else None,
            "change": c.countermeasure.title if c.countermeasure.a3.can_view(user) else None,
        }
        for c in cycles
    ]


def _series_query(series: dict[str, Any]) -> str:
    """?breakdown=..&value=.. for links that keep the series shown (empty for the total)."""
    if not series["breakdown"]:
        return ""
    return "?" + urlencode({"breakdown": series["breakdown"], "value": series["value"]})


def metric_chart(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """The chart as a file: SVG or PNG drawn without a browser, or its Vega-Lite spec."""
    metric = _visible(request, slug)
    breakdown, value = request.GET.get("breakdown", ""), request.GET.get("value", "")
    data = api.metric_detail_data(metric, _user(request), breakdown, value)
    spec_json = data["_spec_json"]
    part = data["series"]["value"].lower().replace(" ", "-")
    stem = f"{metric.slug}-{part}" if part else metric.slug
    if kind == "svg":
        response = HttpResponse(metric_spc.chart_svg(spec_json), content_type="image/svg+xml")
    elif kind == "png":
        response = HttpResponse(metric_spc.chart_png(spec_json), content_type="image/png")
    else:
        response = HttpResponse(spec_json, content_type="application/json")
        kind = "vl.json"
    response["Content-Disposition"] = f'inline; filename="{stem}.{kind}"'
    return response


@require_POST
def annotation_add(request: HttpRequest, slug: str) -> HttpResponse:
    metric = _visible(request, slug)
    user = _user(request)
    if not metric.can_annotate(user):
        raise PermissionDenied
    form = AnnotationForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label}: {' '.join(str(e) for e in errors)}"
            if name in form.fields
            else " ".join(str(e) for e in errors)
            for name, errors in form.errors.items()
        )
        messages.error(request, f"The event was not added. {problems}")
        # Back to the form with what was typed, so nothing has to be typed again.
        kept = urlencode(
            {
                "event_on": request.POST.get("on", "")[:20],
                "event_text": request.POST.get("text", "")[:400],
            }
        )
        return redirect(f"{metric.get_absolute_url()}?{kept}#annotations")
    Annotation.objects.create(
        metric=metric, on=form.cleaned_data["on"], text=form.cleaned_data["text"], author=user
    )
    messages.success(
        request,
        f"Added to the chart: {form.cleaned_data['on']:%d %b %Y}, {form.cleaned_data['text']}.",
    )
    return redirect(f"{metric.get_absolute_url()}#annotations")


@require_POST
def annotation_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    metric = _visible(request, slug)
    annotation = get_object_or_404(Annotation, metric=metric, pk=pk)
    if not annotation.can_delete(_user(request)):
        raise PermissionDenied
    annotation.delete()
    messages.success(
        request, f"Removed from the chart: {annotation.on:%d %b %Y}, {annotation.text}."
    )
    return redirect(f"{metric.get_absolute_url()}#annotations")


def vega_script(request: HttpRequest) -> HttpResponse:
    """Vega, Vega-Lite and vega-embed in one script, from the installed vl-convert (no CDN)."""
    script = spc_chart.vega_bundle(settings.DATA_DIR / "cache")
    response = HttpResponse(script, content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=86400"
    return response


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
