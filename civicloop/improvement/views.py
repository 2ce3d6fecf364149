"""A3 and PDSA pages. Thin: look up what the person may see (404 otherwise), check they may
change it (403 otherwise), hand the input to a service, render its answer or its refusal."""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from civicloop.core import worker
from civicloop.core.twins import Format, respond
from civicloop.improvement import api, export, fishbone, services
from civicloop.improvement.forms import (
    A3HeaderForm,
    A3NewForm,
    ActForm,
    ActionForm,
    ChartForm,
    CountermeasureForm,
    CycleForm,
    DoForm,
    RootCauseForm,
    SectionForm,
    SharingForm,
    StartForm,
    StateForm,
    StudyForm,
    TemplateForm,
    VoiceForm,
    add_problems,
    find_series,
)
from civicloop.improvement.models import (
    A3,
    A3Metric,
    A3Template,
    Countermeasure,
    CustomerVoice,
    Outcome,
    PdsaCycle,
    PlanAction,
    State,
)
from civicloop.improvement.sections import BY_KEY, SECTION_KEYS
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User

STEPS = (("plan", "Plan"), ("do", "Do"), ("study", "Study"), ("act", "Act"))


def _steps(stage: str) -> list[tuple[str, str, str]]:
    """Each step done, current or to do (a decided cycle has every step done)."""
    order = [key for key, _ in STEPS] + ["done"]
    at = order.index(stage)
    return [
        (key, label, "done" if i < at else "current" if i == at else "todo")
        for i, (key, label) in enumerate(STEPS)
    ]


TEXT_SECTIONS = ("background", "current_condition", "goal", "follow_up")


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _visible_team(request: HttpRequest, slug: str) -> Team:
    return get_object_or_404(Team.objects.visible_to(_user(request)), slug=slug)


def _visible_a3(request: HttpRequest, pk: int) -> A3:
    a3 = get_object_or_404(A3.objects.select_related("team", "owner", "sponsor", "mentor"), pk=pk)
    if not a3.can_view(_user(request)):
        raise Http404("No such page.")
    return a3


class ClosedA3(Exception):
    def __init__(self, a3: A3) -> None:
        super().__init__(a3.title)
        self.a3 = a3


def open_a3(view: Any) -> Any:
    """A view that changes an A3: a closed one is a record, so back to its page, saying so."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return cast(HttpResponse, view(request, *args, **kwargs))
        except ClosedA3 as closed:
            messages.error(
                request,
                f"“{closed.a3.title}” is closed ({closed.a3.state_text.lower()}): it is a "
                "record now, and nothing on it changes.",
            )
            return redirect(closed.a3.get_absolute_url())

    return wrapped


def _editable_a3(request: HttpRequest, pk: int) -> A3:
    a3 = _visible_a3(request, pk)
    if not a3.can_change(_user(request)):
        raise PermissionDenied
    if a3.is_closed:
        raise ClosedA3(a3)
    return a3


def _visible_cycle(request: HttpRequest, pk: int) -> PdsaCycle:
    cycle = get_object_or_404(
        PdsaCycle.objects.select_related("countermeasure__a3__team", "metric"), pk=pk
    )
    if not cycle.a3.can_view(_user(request)):
        raise Http404("No such page.")
    return cycle


def _editable_cycle(request: HttpRequest, pk: int) -> PdsaCycle:
    cycle = _visible_cycle(request, pk)
    if not cycle.a3.can_change(_user(request)):
        raise PermissionDenied
    if cycle.a3.is_closed:
        raise ClosedA3(cycle.a3)
    return cycle


def _refused(request: HttpRequest, error: services.A3Error, back: str) -> HttpResponse:
    """A refused one-click step (a POST without a form page): say why, back where it was."""
    messages.error(request, " ".join(message for _, message in error.problems))
    return redirect(back)


# --- lists ----------------------------------------------------------------------------------


def a3_list(request: HttpRequest, fmt: str = Format.HTML) -> HttpResponse:
    """Every A3 this person may read, newest activity first; ?state= and ?team= narrow it."""
    user = _user(request)
    queryset = A3.objects.visible_to(user)
    state = request.GET.get("state", "").strip()
    if state and state not in State.values:
        message = f"state: give one of {', '.join(State.values)}."
        if fmt != Format.HTML:
            return JsonResponse({"error": message}, status=400)
        return render(request, "improvement/bad_request.html", {"message": message}, status=400)
    if state:
        queryset = queryset.filter(state=state)
    team_slug = request.GET.get("team", "").strip()
    if team_slug:
        queryset = queryset.filter(team__slug=team_slug)
    rows = api.a3_list(queryset, timezone.localdate())
    data = {"a3s": rows, "state": state, "team": team_slug}
    table = (
        "a3s.csv",
        ["id", "title", "team", "owner", "state", "started", "next review", "url"],
        [
            (r["id"], r["title"], r["team"], r["owner"], r["state_text"], r["started_on"],
             r["review_on"], r["url"])
            for r in rows
        ],
    )  # fmt: skip
    context = {"nav": "improvement", "states": State.choices}
    return respond(request, fmt, "improvement/a3_list.html", data, context, table)


def team_a3s(request: HttpRequest, slug: str) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    rows = api.a3_list(A3.objects.filter(team=team), timezone.localdate())
    return render(
        request,
        "improvement/team_a3s.html",
        {
            "team": team,
            "a3s": rows,
            "can_edit": team.can_edit(user),
            "templates": A3Template.objects.filter(team=team),
            "nav": "improvement",
        },
    )


@require_http_methods(["GET", "POST"])
def a3_new(request: HttpRequest, slug: str) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    if not team.can_edit(user):
        raise PermissionDenied
    templates = services.templates_for(user, team)
    form = A3NewForm(
        request.POST or None,
        team=team,
        user=user,
        templates=templates,
        initial={"owner": user, "started_on": timezone.localdate()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            a3 = services.create_a3(user, team, form.values())
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, f"A3 “{a3.title}” started. Work through its sections.")
            return redirect(a3.get_absolute_url())
    return render(
        request, "improvement/a3_form.html", {"form": form, "team": team, "nav": "improvement"}
    )


# --- templates ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    team = _visible_team(request, slug)
    user = _user(request)
    if not team.can_edit(user):
        raise PermissionDenied
    template = get_object_or_404(A3Template, team=team, pk=pk) if pk is not None else None
    initial: dict[str, Any] = {}
    if template is not None:
        initial = {
            "name": template.name,
            "is_shared": template.is_shared,
            "fishbone_categories": "\n".join(template.fishbone_categories),
            **{f"question_{k}": template.questions.get(k, "") for k in SECTION_KEYS},
        }
    else:
        from civicloop.improvement.sections import FISHBONE_CATEGORIES

        initial = {"fishbone_categories": "\n".join(FISHBONE_CATEGORIES)}
    form = TemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_template(user, team, form.cleaned_data, template)
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, f"Template “{saved.name}” saved.")
            return redirect("improvement:team_a3s", slug=team.slug)
    return render(
        request,
        "improvement/template_form.html",
        {"form": form, "team": team, "template": template, "nav": "improvement"},
    )


# --- one A3 ---------------------------------------------------------------------------------


def a3_detail(request: HttpRequest, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    a3 = _visible_a3(request, pk)
    user = _user(request)
    data = api.a3_detail_data(a3, user)
    if fmt == Format.JSON:
        return JsonResponse(api.strip_private(data), json_dumps_params={"indent": 2})
    can_change = a3.can_change(user) and not a3.is_closed
    root = data["root_cause"]
    context = {
        **data,
        "nav": "improvement",
        "has_causes": any(b["causes"] for b in root["fishbone"]),
        "fishbone_svg": fishbone.fishbone_svg(
            root["problem"], root["fishbone"], width=760, cause_chars=30, room=200, text=12.5
        ),
        "can_change": can_change,
        "can_share": a3.can_change(user),  # a closed A3 may still be shared
        "chart_form": ChartForm(user=user) if can_change else None,
        "pending_rebases": services.pending_rebases(user, a3=a3),
    }
    return render(request, "improvement/a3_detail.html", context)


def _state_choices(a3: A3) -> list[tuple[str, str]]:
    choices = []
    for state in services.NEXT_STATES.get(State(a3.state), ()):
        if state == State.CLOSED:
            choices.append(("closed", "Closed"))
        else:
            choices.append((state.value, state.label))
    if not a3.is_closed and ("closed", "Closed") not in choices:
        choices.append(("closed", "Closed (abandoned)"))
    return choices


@require_http_methods(["GET", "POST"])
@open_a3
def a3_edit(request: HttpRequest, pk: int) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    user = _user(request)
    initial = {name: getattr(a3, name) for name in services.HEADER_FIELDS}
    form = A3HeaderForm(request.POST or None, a3=a3, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "reason"}
        values["started_on"] = values.get("started_on") or a3.started_on
        try:
            services.update_a3(user, a3, values, reason=form.cleaned_data["reason"])
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect(a3.get_absolute_url())
    return render(
        request,
        "improvement/section_form.html",
        {"form": form, "a3": a3, "heading": "About this A3", "nav": "improvement"},
    )


@require_http_methods(["GET", "POST"])
def a3_sharing(request: HttpRequest, pk: int) -> HttpResponse:
    """Sharing works on a closed A3 too: other teams may learn from the record."""
    a3 = _visible_a3(request, pk)
    user = _user(request)
    if not a3.can_change(user):
        raise PermissionDenied
    form = SharingForm(
        request.POST or None,
        a3=a3,
        user=user,
        initial={"is_open": a3.is_open, "shared_with": list(a3.shared_with.all())},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.share_a3(
                user,
                a3,
                is_open=form.cleaned_data["is_open"],
                shared_with=list(form.cleaned_data["shared_with"]),
            )
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, "Sharing saved.")
            return redirect(a3.get_absolute_url())
    return render(
        request,
        "improvement/section_form.html",
        {"form": form, "a3": a3, "heading": "Who may read this A3", "nav": "improvement"},
    )


@require_http_methods(["GET", "POST"])
@open_a3
def a3_section(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    if key not in TEXT_SECTIONS:
        raise Http404("No such section.")
    a3 = _editable_a3(request, pk)
    user = _user(request)
    initial = {"text": getattr(a3, key)}
    if key == "current_condition":
        initial["current_as_of"] = a3.current_as_of
    if key == "goal":
        initial.update(
            goal_metric=a3.goal_metric,
            goal_value=a3.goal_value,
            goal_target=a3.goal_target,
            goal_by=a3.goal_by,
            goal_key_result=a3.goal_key_result,
        )
    form = SectionForm(request.POST or None, a3=a3, key=key, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_a3(user, a3, form.values(), reason=form.cleaned_data["reason"])
        except services.A3Error as error:
            add_problems(form, error, {key: "text", "value": "goal_value"})
        else:
            messages.success(request, f"{BY_KEY[key].title} saved.")
            return redirect(f"{a3.get_absolute_url()}#{key}")
    return render(
        request,
        "improvement/section_form.html",
        {
            "form": form,
            "a3": a3,
            "heading": BY_KEY[key].title,
            "question": a3.question(key),
            "nav": "improvement",
        },
    )


@require_http_methods(["GET", "POST"])
@open_a3
def a3_root_causes(request: HttpRequest, pk: int) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    user = _user(request)
    initial: dict[str, Any] = {"problem": a3.problem}
    for index, why in enumerate(a3.whys, 1):
        initial[f"why_{index}"] = why
    for index, category in enumerate(a3.fishbone_categories):
        initial[f"causes_{index}"] = "\n".join(
            c["text"] for c in a3.causes if c["category"] == category
        )
    form = RootCauseForm(request.POST or None, a3=a3, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_root_causes(
                user,
                a3,
                problem=form.cleaned_data["problem"],
                whys=form.whys(),
                causes=form.causes(),
            )
        except services.A3Error as error:
            names = {f"causes_{c}": f"causes_{i}" for i, c in enumerate(form.categories)}
            add_problems(form, error, names)
        else:
            messages.success(request, "Root-cause analysis saved.")
            return redirect(f"{a3.get_absolute_url()}#root_cause")
    return render(
        request,
        "improvement/root_cause_form.html",
        {"form": form, "a3": a3, "question": a3.question("root_cause"), "nav": "improvement"},
    )


@require_http_methods(["GET", "POST"])
@open_a3
def a3_chart_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a metric's chart to the current condition; a refusal comes back on this form's
    fields with what was typed."""
    a3 = _editable_a3(request, pk)
    user = _user(request)
    form = ChartForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        metric = form.cleaned_data["metric"]
        if metric is None:
            form.add_error("metric", "Choose the metric whose chart shows the current condition.")
        else:
            try:
                breakdown, value = find_series(metric, form.cleaned_data["value"])
                services.link_metric(user, a3, metric, breakdown, value)
            except services.A3Error as error:
                add_problems(form, error)
            else:
                messages.success(request, f"Chart of {metric.name} added to the current condition.")
                return redirect(f"{a3.get_absolute_url()}#current_condition")
    return render(
        request,
        "improvement/section_form.html",
        {
            "form": form,
            "a3": a3,
            "heading": "Add a metric's chart",
            "question": a3.question("current_condition"),
            "nav": "improvement",
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@open_a3
def a3_chart_remove(request: HttpRequest, pk: int, link: int) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    chosen = get_object_or_404(A3Metric, a3=a3, pk=link)
    back = f"{a3.get_absolute_url()}#current_condition"
    try:
        services.unlink_metric(_user(request), a3, chosen)
    except services.A3Error as error:
        return _refused(request, error, back)
    messages.success(request, f"Chart of {chosen.metric.name} removed.")
    return redirect(back)


@require_http_methods(["GET", "POST"])
@open_a3
def a3_voice_add(request: HttpRequest, pk: int) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    form = VoiceForm(request.POST or None, initial={"section": request.GET.get("section")})
    if request.method == "POST" and form.is_valid():
        try:
            services.add_voice(_user(request), a3, form.cleaned_data)
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, "The customer's voice is on the A3.")
            return redirect(f"{a3.get_absolute_url()}#{form.cleaned_data['section']}")
    return render(
        request,
        "improvement/section_form.html",
        {"form": form, "a3": a3, "heading": "The customer's voice", "nav": "improvement"},
    )


@require_POST
@open_a3
def a3_voice_remove(request: HttpRequest, pk: int, voice: int) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    chosen = get_object_or_404(CustomerVoice, a3=a3, pk=voice)
    try:
        services.remove_voice(_user(request), a3, chosen)
    except services.A3Error as error:
        return _refused(request, error, a3.get_absolute_url())
    messages.success(request, "Removed.")
    return redirect(f"{a3.get_absolute_url()}#{chosen.section}")


@require_http_methods(["GET", "POST"])
@open_a3
def countermeasure_edit(request: HttpRequest, pk: int, cm: int | None = None) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    countermeasure = get_object_or_404(Countermeasure, a3=a3, pk=cm) if cm is not None else None
    initial = (
        {
            "title": countermeasure.title,
            "cause": countermeasure.cause,
            "description": countermeasure.description,
        }
        if countermeasure
        else {}
    )
    form = CountermeasureForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_countermeasure(_user(request), a3, form.cleaned_data, countermeasure)
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, "Countermeasure saved.")
            return redirect(f"{a3.get_absolute_url()}#countermeasures")
    return render(
        request,
        "improvement/section_form.html",
        {
            "form": form,
            "a3": a3,
            "heading": "Change the countermeasure" if countermeasure else "Add a countermeasure",
            "question": a3.question("countermeasures"),
            "nav": "improvement",
        },
    )


@require_http_methods(["GET", "POST"])
@open_a3
def action_edit(request: HttpRequest, pk: int, action: int | None = None) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    chosen = get_object_or_404(PlanAction, a3=a3, pk=action) if action is not None else None
    initial = (
        {
            "what": chosen.what,
            "owner": chosen.owner,
            "due_on": chosen.due_on,
            "countermeasure": chosen.countermeasure,
        }
        if chosen
        else {}
    )
    form = ActionForm(request.POST or None, a3=a3, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_action(_user(request), a3, form.cleaned_data, chosen)
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, "Action saved.")
            return redirect(f"{a3.get_absolute_url()}#plan")
    return render(
        request,
        "improvement/section_form.html",
        {
            "form": form,
            "a3": a3,
            "heading": "Change the action" if chosen else "Add an action",
            "question": a3.question("plan"),
            "nav": "improvement",
        },
    )


@require_POST
@open_a3
def action_done(request: HttpRequest, pk: int, action: int) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    chosen = get_object_or_404(PlanAction, a3=a3, pk=action)
    undo = request.POST.get("undo") == "1"
    try:
        services.complete_action(_user(request), a3, chosen, undo=undo)
    except services.A3Error as error:
        return _refused(request, error, f"{a3.get_absolute_url()}#plan")
    messages.success(request, f"“{chosen.what}”: {'reopened' if undo else 'done'}.")
    return redirect(f"{a3.get_absolute_url()}#plan")


@require_http_methods(["GET", "POST"])
@open_a3
def a3_state(request: HttpRequest, pk: int) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    form = StateForm(request.POST or None, choices=_state_choices(a3))
    if request.method == "POST" and form.is_valid():
        state = form.cleaned_data["state"]
        outcome = form.cleaned_data["outcome"]
        if state == State.CLOSED and State(a3.state) != State.CONFIRMING:
            outcome = Outcome.ABANDONED  # only a confirmed effect closes as adopted
        try:
            services.move(
                _user(request), a3, state, outcome=outcome, reason=form.cleaned_data["reason"]
            )
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, f"The A3 is now {a3.state_text.lower()}.")
            return redirect(a3.get_absolute_url())
    return render(
        request,
        "improvement/state_form.html",
        {"form": form, "a3": a3, "nav": "improvement"},
    )


# --- print ----------------------------------------------------------------------------------


def a3_print(request: HttpRequest, pk: int) -> HttpResponse:
    a3 = _visible_a3(request, pk)
    return HttpResponse(export.render_html(a3, _user(request)))


def a3_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    a3 = _visible_a3(request, pk)
    try:
        pdf = export.render_pdf(a3, _user(request))
    except export.PdfUnavailable as error:
        return render(
            request,
            "improvement/bad_request.html",
            {"message": str(error), "nav": "improvement"},
            status=503,
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{export.filename(a3)}.pdf"'
    return response


# --- PDSA cycles ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@open_a3
def cycle_new(request: HttpRequest, pk: int, cm: int) -> HttpResponse:
    a3 = _editable_a3(request, pk)
    countermeasure = get_object_or_404(Countermeasure, a3=a3, pk=cm)
    user = _user(request)
    previous = None
    after = request.GET.get("after") or request.POST.get("after")
    if after:
        # The next cycle may test the same countermeasure, adapted, or another one.
        previous = get_object_or_404(PdsaCycle, countermeasure__a3=a3, pk=after)
    initial: dict[str, Any] = {}
    first = a3.metric_links.select_related("metric").first()
    if first is not None and first.metric.can_view(user):
        initial = {"metric": first.metric, "value": first.value}
    if previous is not None:
        initial = {
            "metric": previous.metric,
            "value": previous.value,
            "who": previous.who,
            "where": previous.where,
            "predicted_direction": previous.predicted_direction,
            "data_to_collect": previous.data_to_collect,
        }
    form = CycleForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            cycle = services.add_cycle(user, countermeasure, form.values(), previous=previous)
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, f"PDSA cycle {cycle.number} planned.")
            return redirect(cycle.get_absolute_url())
    return render(
        request,
        "improvement/cycle_form.html",
        {
            "form": form,
            "a3": a3,
            "countermeasure": countermeasure,
            "previous": previous,
            "nav": "improvement",
        },
    )


def cycle_detail(request: HttpRequest, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    cycle = _visible_cycle(request, pk)
    user = _user(request)
    data = api.cycle_data(cycle, user)
    if fmt == Format.JSON:
        return JsonResponse(api.strip_private(data), json_dumps_params={"indent": 2})
    return _cycle_page(request, cycle, data)


STEP_FORMS = {"plan": StartForm, "do": DoForm, "study": StudyForm, "act": ActForm}
FORM_KEYS = {
    StartForm: "start_form",
    DoForm: "do_form",
    StudyForm: "study_form",
    ActForm: "act_form",
}


def _cycle_page(
    request: HttpRequest, cycle: PdsaCycle, data: dict[str, Any], refused: Any = None
) -> HttpResponse:
    """The cycle's page: with the form of the step it is at, or, after a refusal, the refused
    form as typed with its problems (status 400)."""
    user = _user(request)
    a3 = cycle.a3
    can_change = a3.can_change(user) and not a3.is_closed
    forms: dict[str, Any] = dict.fromkeys(FORM_KEYS.values())
    if refused is not None:
        forms[FORM_KEYS[type(refused)]] = refused
    elif can_change and cycle.stage in STEP_FORMS:
        form_class = STEP_FORMS[cycle.stage]
        initial = {"started_on": cycle.planned_start} if form_class is StartForm else None
        forms[FORM_KEYS[form_class]] = form_class(initial=initial)
    context = {
        "cycle": data,
        "a3": a3,
        "nav": "improvement",
        "steps": _steps(cycle.stage),
        "can_change": can_change,
        "can_rebase": refused is None and cycle.rebase_pending and cycle.metric.can_change(user),
        **forms,
    }
    status = 400 if refused is not None else 200
    return render(request, "improvement/cycle_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
@open_a3
def cycle_plan(request: HttpRequest, pk: int) -> HttpResponse:
    cycle = _editable_cycle(request, pk)
    user = _user(request)
    if cycle.started_on is not None:
        messages.error(
            request,
            f"Cycle {cycle.number} started on {cycle.started_on:%d %b %Y}: its plan and "
            "prediction are fixed from then on.",
        )
        return redirect(cycle.get_absolute_url())
    initial = {name: getattr(cycle, name) for name in services.PLAN_FIELDS}
    initial.update(metric=cycle.metric, value=cycle.value)
    form = CycleForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_plan(user, cycle, form.values())
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, "Plan saved.")
            return redirect(cycle.get_absolute_url())
    return render(
        request,
        "improvement/cycle_form.html",
        {
            "form": form,
            "a3": cycle.a3,
            "countermeasure": cycle.countermeasure,
            "cycle": cycle,
            "nav": "improvement",
        },
    )


def _cycle_step(
    request: HttpRequest, pk: int, form_class: Any, step: Any, done: str
) -> HttpResponse:
    cycle = _editable_cycle(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            step(cycle, form.cleaned_data)
        except services.A3Error as error:
            add_problems(form, error)
        else:
            messages.success(request, done)
            return redirect(cycle.get_absolute_url())
    # Refused: the cycle page again, with the form as typed and its problems.
    return _cycle_page(request, cycle, api.cycle_data(cycle, _user(request)), refused=form)


@require_POST
@open_a3
def cycle_start(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    return _cycle_step(
        request,
        pk,
        StartForm,
        lambda c, d: services.start_cycle(user, c, d["started_on"]),
        "The cycle has started; its date is on the metric's chart.",
    )


@require_POST
@open_a3
def cycle_do(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    return _cycle_step(
        request,
        pk,
        DoForm,
        lambda c, d: services.record_do(user, c, d["ended_on"], d["what_happened"]),
        "Do recorded. Now study it against the prediction.",
    )


@require_POST
@open_a3
def cycle_study(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    return _cycle_step(
        request,
        pk,
        StudyForm,
        lambda c, d: services.study_cycle(user, c, d["study_notes"]),
        "Studied: the verdict from the data is kept with the cycle.",
    )


@require_POST
@open_a3
def cycle_act(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)

    def step(cycle: PdsaCycle, data: dict[str, Any]) -> None:
        services.act(
            user,
            cycle,
            data["decision"],
            data["act_notes"],
            adopt_anyway=data.get("adopt_anyway", False),
        )
        if cycle.rebase_version is not None:
            worker.enqueue_metric_refresh()

    return _cycle_step(request, pk, ActForm, step, "Decided.")


@require_POST
def cycle_rebase(request: HttpRequest, pk: int) -> HttpResponse:
    """The steward applies an adopted change's rebase (they may not be on the A3's team)."""
    cycle = get_object_or_404(
        PdsaCycle.objects.select_related("countermeasure__a3__team", "metric"), pk=pk
    )
    user = _user(request)
    if not (cycle.a3.can_view(user) or cycle.metric.can_view(user)):
        raise Http404("No such page.")
    if not cycle.metric.can_change(user):
        raise PermissionDenied
    try:
        services.apply_rebase(user, cycle)
    except services.A3Error as error:
        return _refused(request, error, cycle.get_absolute_url())
    worker.enqueue_metric_refresh()
    messages.success(
        request, f"{cycle.metric.name} is rebased at {cycle.started_on:%d %b %Y}, with its reason."
    )
    return redirect(cycle.get_absolute_url())
