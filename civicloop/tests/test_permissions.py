"""Every view, every persona: allowed, read-only refused (403), outsider not told (404),
anonymous sent to sign in. A meta-test fails when a URL is added without a row here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from civicloop.organizations.models import Membership

LOGIN = "/accounts/login/"


@dataclass(frozen=True)
class Case:
    url_name: str
    method: str
    expected: dict[str, int]  # persona -> status code; 302 for anonymous means "to login"
    kwargs: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)


TEAM = {"slug": "team-clean"}
ORG = {"slug": "public-works"}
EVERYONE_READS = {
    "lead": 200,
    "editor": 200,
    "viewer": 200,
    "guest": 200,
    "outsider": 200,
    "anonymous": 302,
}
TEAM_READS = {**EVERYONE_READS, "outsider": 404}
TEAM_EDITS = {
    "lead": 200,
    "editor": 200,
    "viewer": 403,
    "guest": 403,
    "outsider": 404,
    "anonymous": 302,
}
TEAM_MANAGES = {**TEAM_EDITS, "editor": 403}
TEAM_EDIT_POSTED = {**TEAM_EDITS, "lead": 302, "editor": 302}
TEAM_MANAGE_POSTED = {**TEAM_MANAGES, "lead": 302}
# An organization's existence is not secret (the directory is visible to everyone signed in),
# so someone from another organization is refused (403), not told it does not exist.
ORG_EDITS = {
    "lead": 200,
    "editor": 403,
    "viewer": 403,
    "guest": 403,
    "outsider": 403,
    "anonymous": 302,
}

CASES = [
    Case("organizations:my_teams", "get", EVERYONE_READS),
    Case("organizations:my_teams_json", "get", EVERYONE_READS),
    Case("organizations:my_teams_csv", "get", EVERYONE_READS),
    Case("organizations:team_detail", "get", TEAM_READS, TEAM),
    Case("organizations:team_detail_json", "get", TEAM_READS, TEAM),
    Case("organizations:team_detail_csv", "get", TEAM_READS, TEAM),
    Case("organizations:team_edit", "get", TEAM_EDITS, TEAM),
    Case(
        "organizations:team_edit",
        "post",
        TEAM_EDIT_POSTED,
        TEAM,
        {"purpose": "Cleaner streets, faster.", "customer_voice": ""},
    ),
    Case("organizations:member_add", "get", TEAM_MANAGES, TEAM),
    Case(
        "organizations:member_add",
        "post",
        TEAM_MANAGE_POSTED,
        TEAM,
        {"email": "admin@example.org", "role": "viewer"},
    ),
    Case("organizations:member_change", "post", TEAM_MANAGE_POSTED, TEAM, {"role": "member"}),
    Case("organizations:organization_list", "get", EVERYONE_READS),
    Case("organizations:organization_list_json", "get", EVERYONE_READS),
    Case("organizations:organization_list_csv", "get", EVERYONE_READS),
    Case("organizations:organization_detail", "get", EVERYONE_READS, ORG),
    Case("organizations:organization_detail_json", "get", EVERYONE_READS, ORG),
    Case("organizations:organization_detail_csv", "get", EVERYONE_READS, ORG),
    Case("organizations:organization_edit", "get", ORG_EDITS, ORG),
    Case(
        "organizations:organization_edit",
        "post",
        {**ORG_EDITS, "lead": 302},
        ORG,
        {"description": "Streets and sanitation.", "website": ""},
    ),
    Case("core:home", "get", {p: 302 for p in EVERYONE_READS}),
    Case("accounts:password_change", "get", {**EVERYONE_READS}),
    Case("accounts:password_change_done", "get", {**EVERYONE_READS}),
    Case("accounts:logout", "post", {p: 302 for p in EVERYONE_READS}),
]

# Deliberately public pages: sign-in, password reset, the health check.
PUBLIC = {
    "accounts:login": {"slug": None},
    "accounts:password_reset": {},
    "accounts:password_reset_done": {},
    "accounts:password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
    "accounts:password_reset_complete": {},
    "core:healthz": {},
}


def _resolve_kwargs(case: Case, personas) -> dict[str, object]:  # type: ignore[no-untyped-def]
    if case.url_name == "organizations:member_change":
        viewer_membership = Membership.objects.get(team=personas.team, person=personas.viewer)
        return {**case.kwargs, "pk": viewer_membership.pk}
    return dict(case.kwargs)


@pytest.mark.parametrize("persona", ["lead", "editor", "viewer", "guest", "outsider", "anonymous"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method}-{c.url_name.split(':')[1]}")
def test_view_permissions(case: Case, persona: str, personas, client_as) -> None:  # type: ignore[no-untyped-def]
    url = reverse(case.url_name, kwargs=_resolve_kwargs(case, personas))
    client = client_as(persona)
    response = getattr(client, case.method)(url, case.data)
    expected = case.expected[persona]
    assert response.status_code == expected, (
        f"{persona} {case.method.upper()} {url}: expected {expected}, got {response.status_code}"
    )
    if persona == "anonymous" and case.url_name not in {"core:home", "accounts:logout"}:
        assert response["Location"].startswith(LOGIN), "anonymous must be sent to sign in"


def test_refused_changes_change_nothing(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    """A viewer's POST is refused and the team's purpose is exactly what it was."""
    before = personas.team.purpose
    response = client_as("viewer").post(
        reverse("organizations:team_edit", kwargs=TEAM), {"purpose": "Hijacked"}
    )
    assert response.status_code == 403
    personas.team.refresh_from_db()
    assert personas.team.purpose == before


def test_outsider_404_looks_like_a_missing_team(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    """The outsider cannot tell Team Clean exists: same answer as for a team that doesn't."""
    client = client_as("outsider")
    real = client.get(reverse("organizations:team_detail", kwargs=TEAM))
    missing = client.get(reverse("organizations:team_detail", kwargs={"slug": "no-such-team"}))
    assert real.status_code == missing.status_code == 404
    # The pages differ only in the per-response CSRF mask of the sign-out form.
    token = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub(b"", real.content) == token.sub(b"", missing.content)


def test_admin_sees_every_team(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("admin").get(reverse("organizations:team_detail", kwargs=TEAM))
    assert response.status_code == 200


@pytest.mark.parametrize("url_name", sorted(PUBLIC))
def test_public_pages_need_no_sign_in(url_name: str, client, db) -> None:  # type: ignore[no-untyped-def]
    kwargs = {k: v for k, v in PUBLIC[url_name].items() if v is not None}
    response = client.get(reverse(url_name, kwargs=kwargs))
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert not response["Location"].startswith(LOGIN)


def _named_urls(patterns: list, prefix: str = "") -> set[str]:  # type: ignore[type-arg]
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # Django's admin has its own staff-only checks
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= _named_urls(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


def test_every_view_has_permission_tests() -> None:
    """Adding a URL without a permission row (or a deliberate public entry) fails here."""
    covered = {case.url_name for case in CASES} | set(PUBLIC)
    missing = _named_urls(get_resolver().url_patterns) - covered
    assert not missing, f"views without permission tests: {sorted(missing)}"


def test_admin_is_for_staff_only(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    assert client_as("lead").get("/admin/").status_code == 302
    assert client_as("admin").get("/admin/").status_code == 200
