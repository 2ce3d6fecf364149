"""Every view, every persona: allowed, read-only refused (403), outsider not told (404),
anonymous sent to sign in. A meta-test fails when a URL is added without a row here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from civicloop.organizations.models import Membership
from civicloop.testing import LITTER_CSV, LITTER_SCHEMA, load_csv

LOGIN = "/accounts/login/"


@dataclass(frozen=True)
class Case:
    url_name: str
    method: str
    expected: dict[str, int]  # persona -> status code; 302 for anonymous means "to login"
    kwargs: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # field -> (name, content)


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

# Data: the department's restricted dataset, shared by agreement with the partner (the guest's
# organization) but not with Police (the outsider's), which therefore gets a 404.
DATASET = {"slug": "litter_reports"}
DATA_READS = {**TEAM_READS}
DATA_MANAGES = {**TEAM_MANAGES}
DATA_MANAGE_POSTED = {**DATA_MANAGES, "lead": 302}
# Anyone may ask; only organization administrators (and administrators) create datasets.
DATA_CREATES = {**ORG_EDITS}
UPLOAD = {"file": ("litter.csv", LITTER_CSV)}

# Metrics: Team Clean's weekly count of litter reports (steward: the lead). Team members who
# may see the data read it; only the steward changes it (the editor, viewer and guest are
# refused, 403); the outsider is not told it exists (404). Leads and members of any team may
# define new metrics (the outsider leads Team Safe), but only for a team they edit.
METRIC = {"slug": "litter-reports-weekly"}
METRIC_DEFINITION = {
    "id": "litter-reports-weekly",
    "name": "Litter reports per week",
    "question": "How many litter reports do residents make each week?",
    "team": "team-clean",
    "owner": "public-works",
    "steward": "lead@example.org",
    "dataset": "litter_reports",
    "measure": {"aggregate": "count"},
    "time": {"column": "reported_on", "grain": "week"},
    "direction": "neutral",
}
METRIC_READS = {**TEAM_READS}
METRIC_CHANGES = {**TEAM_MANAGES}
METRIC_CHANGE_POSTED = {**METRIC_CHANGES, "lead": 302}
METRIC_CREATES = {**TEAM_EDITS, "outsider": 200}
# The outsider may create metrics for Team Safe, but Team Clean does not exist for them: the
# form comes back refusing the unknown team (nothing is saved), rather than a 403 that would
# confirm the team is there.
METRIC_CREATE_POSTED = {**TEAM_EDIT_POSTED, "outsider": 200}
METRIC_AGREES = {**TEAM_EDIT_POSTED, "guest": 302}
# Leads and members mark events on a metric's chart; viewers and guests read them. The event
# to remove was marked by the editor: they and the steward (the lead) may remove it.
METRIC_ANNOTATES = {**TEAM_EDIT_POSTED}
ANNOTATION_FORM = {"on": "2026-01-12", "text": "Crews moved to a four-day week"}
METRIC_EDIT_FORM = {
    "name": "Litter reports each week",
    "question": METRIC_DEFINITION["question"],
    "grain": "week",
    "decimals": "0",
    "direction": "neutral",
    "chart_type": "xmr",
    "screening": "on",
    "reason": "A clearer name.",
}
METRIC_YAML_FORM = {
    "definition": yaml.safe_dump({**METRIC_DEFINITION, "name": "Litter reports each week"}),
    "reason": "A clearer name.",
}
METRIC_NEW_FORM = {
    "definition": yaml.safe_dump(
        {**METRIC_DEFINITION, "id": "bags-per-week", "name": "Bags per week"}
        | {"measure": {"aggregate": "sum", "column": "bags"}}
    ),
    "reason": "Crews asked for it.",
}

# OKRs. Everyone signed in reads the organization's tree, what changed, the report, missions
# and objectives that are not private (with their key results); a private objective (and its
# key results) does not exist for the outsider (404). A team's OKR page is for its people.
# Missions are the city's leaders' (the lead administers the department; Police is a
# department too, but the outsider does not administer it): everyone else is refused (403).
# Objectives are created and changed by the roles the team's governance names (by default its
# leads); key results are changed and checked in by the leads and members of the key result's
# team. A key result contributes to another team's objective only once that team shares it:
# the outsider, who leads Team Safe, sees Team Clean's public objective but may not add Team
# Safe's key results to it (403), nor change Team Clean's. Quarter close and governance are
# for the team's leads.
MISSION = {"slug": "clean-safe-streets"}
OBJECTIVE = {"pk": "objective"}  # placeholders: _resolve_kwargs makes them and puts their pks
PRIVATE_OBJECTIVE = {"pk": "private-objective"}
KEY_RESULT = {"pk": "key-result"}
PRIVATE_KEY_RESULT = {"pk": "private-key-result"}
CURRENT_QUARTER = {**TEAM, "quarter": "current"}
OKR_READS = {**EVERYONE_READS}
OKR_PRIVATE_READS = {**TEAM_READS}
MISSION_WRITES = {**ORG_EDITS}
MISSION_WRITE_POSTED = {**ORG_EDITS, "lead": 302}
OBJECTIVE_CHANGES = {**TEAM_MANAGES, "outsider": 403}
OBJECTIVE_CHANGE_POSTED = {**OBJECTIVE_CHANGES, "lead": 302}
KR_ADDS = {**TEAM_EDITS, "outsider": 403}
KR_ADD_POSTED = {**TEAM_EDIT_POSTED, "outsider": 403}
KR_CHANGES = {**TEAM_EDITS, "outsider": 403}
KR_CHANGE_POSTED = {**TEAM_EDIT_POSTED, "outsider": 403}
MISSION_FORM = {
    "title": "Homes for everyone",
    "public_value": "Every resident has a safe, warm home they can afford.",
    "is_active": "on",
}
MISSION_EDIT_FORM = {
    "title": "Clean and safe streets",
    "public_value": "Residents walk streets free of litter.",
    "is_active": "on",
    "reason": "Plainer words.",
}
# "<year>", "<quarter>" and "<team>" are filled in by _resolve_data: this year, this quarter,
# and the first team the person writes key results for.
OBJECTIVE_FORM = {
    "mission": "clean-safe-streets",
    "year": "<year>",
    "title": "Bins emptied on the day they are due",
}
OBJECTIVE_EDIT_FORM = {**OBJECTIVE_FORM, "title": "Fewer fly-tips, faster", "reason": "Sharper."}
KR_FORM = {
    "team": "<team>",
    "quarter": "<quarter>",
    "title": "Answer every report within a day",
    "kind": "measure",
    "start_value": "40",
    "target_value": "100",
    "unit": "%",
    "weight": "1",
    "decimals": "0",
}
KR_EDIT_FORM = {**KR_FORM, "target_value": "90", "reason": "Crews were cut."}
CHECKIN_FORM = {"value": "8", "confidence": "at_risk", "note": "A slow start."}
GOVERNANCE_FORM = {"objectives_changed_by": "members", "checkin_every_days": "14"}
CLOSE_FORM = {"reflection": "Crews moved to bins; fly-tips waited."}  # + a decision per KR

# Improvement work. Team Clean's A3 (not shared) is read by the team's people and does not
# exist for the outsider (404); its leads and members change it, viewers and guests are refused
# (403). Its cycles are judged on Team Clean's metric; "<owner>" and "<metric>" in a form are
# filled in by _resolve_data (the editor, and the metric's id). Placeholders in the URL ("a3",
# "cm", "cycle-plan"...) are made by _make_a3: a cycle at each step, so that each step's POST
# is one the cycle may take. Only the metric's steward (the lead) applies an adopted change's
# rebase; the A3's editor is refused it (403).
A3_PAGE = {"pk": "a3"}
A3_READS = {**TEAM_READS}
A3_EDITS = {**TEAM_EDITS}
A3_EDIT_POSTED = {**TEAM_EDIT_POSTED}
A3_REBASES = {**TEAM_MANAGE_POSTED}
# The A3 already charts the metric's total: adding it again is refused on the form (400), so
# those who may edit reach the form and those who may not are stopped before it.
A3_CHART_POSTED = {**TEAM_EDITS, "lead": 400, "editor": 400}
A3_NEW_FORM = {"title": "Fly-tips wait a week in South", "owner": ""}
A3_HEADER_FORM = {"title": "Litter waits for the weekly round", "owner": "<owner>"}
A3_TEMPLATE_FORM = {"name": "Street services A3", "fishbone_categories": "Crews\nPlace"}
A3_CYCLE_FORM = {
    "change": "Weekend sweeps",
    "metric": "<metric>",
    "prediction": "Fewer reports each week.",
    "predicted_direction": "decrease",
}
A3_ACTION_FORM = {"what": "Brief the crews", "owner": "<owner>", "due_on": "2026-03-02"}

# Meetings. Team Clean's dashboard, meetings, actions, packs and weeknotes are read by the
# team's people (any role) and do not exist for the outsider (404); its leads and members
# schedule, draft, capture, end, issue and send (viewers and guests are refused, 403). The
# metric's commentary is written by its steward (the lead) or the team's leads and members. An
# action (owned by the editor) is closed by its owner or the team's editors. Placeholders in the
# URL ("meeting", "item"...) are made by _make_meetings: next week's meeting with a metric and
# a topic on its agenda, an action and an issued pack; last week's meeting, held; a draft
# weeknote and a published one. "<lead>", "<editor>", "<free-day>" and "<weekday>" in a form are
# filled in by _resolve_data.
MEETING = {"pk": "meeting"}
HELD_MEETING = {"pk": "held-meeting"}
MEETING_ITEM = {"pk": "meeting", "item": "item"}
MEETING_COMMENTARY = {"pk": "meeting", "slug": METRIC["slug"]}
MEETING_ACTION = {"pk": "action"}
MEETING_PACK = {"pk": "pack"}
DRAFT_WEEKNOTE = {"pk": "weeknote"}
PUBLISHED_WEEKNOTE = {"pk": "published-weeknote"}
MEETING_READS = {**TEAM_READS}
MEETING_EDITS = {**TEAM_EDITS}
MEETING_EDIT_POSTED = {**TEAM_EDIT_POSTED}
# The feed is for the team's people, signed in or by their private link: nobody else is told
# it exists, signed in or not (404, not a sign-in page a feed reader could not use).
WEEKNOTE_FEED_READS = {**TEAM_READS, "anonymous": 404}
MEETING_FORM = {"on": "<free-day>", "starts_at": "10:00", "minutes": "60"}
CADENCE_FORM = {
    "every_weeks": "2",
    "weekday": "<weekday>",
    "starts_at": "10:00",
    "minutes": "60",
    "first_on": "<free-day>",
}
ACTION_FORM = {
    "text": "Ring the hauler about the routes",
    "owner": "<editor>",
    "due_on": "2027-01-04",
}
NOTE_FORM = {"kind": "decision", "text": "Sweep North twice a week."}
WEEKNOTE_FORM = {"title": "A quiet week", "body": "Nothing changed."}

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
    Case("datasets:dataset_list", "get", EVERYONE_READS),
    Case("datasets:dataset_list_json", "get", EVERYONE_READS),
    Case("datasets:dataset_list_csv", "get", EVERYONE_READS),
    Case("datasets:dataset_detail", "get", DATA_READS, DATASET),
    Case("datasets:dataset_detail_json", "get", DATA_READS, DATASET),
    Case("datasets:run_detail", "get", DATA_READS, DATASET),
    Case("datasets:run_detail_json", "get", DATA_READS, DATASET),
    Case("datasets:run_problems", "get", DATA_READS, DATASET),
    Case("datasets:version_csv", "get", DATA_READS, {**DATASET, "number": "1"}),
    Case("datasets:version_xlsx", "get", DATA_READS, {**DATASET, "number": "1"}),
    Case("datasets:version_quarantine", "get", DATA_READS, {**DATASET, "number": "1"}),
    Case(
        "datasets:version_rollback",
        "post",
        DATA_MANAGE_POSTED,
        {**DATASET, "number": "1"},
        {"reason": "Version 2 counted a week twice."},
    ),
    Case("datasets:dataset_upload", "get", DATA_MANAGES, DATASET),
    Case(
        "datasets:dataset_upload",
        "post",
        DATA_MANAGE_POSTED,
        DATASET,
        {"mode": "append", "bad_rows": "reject"},
        UPLOAD,
    ),
    Case("datasets:agreement_edit", "get", DATA_MANAGES, DATASET),
    Case(
        "datasets:agreement_edit",
        "post",
        DATA_MANAGE_POSTED,
        DATASET,
        {"purpose": "Cleanliness reporting.", "valid_until": ""},
    ),
    Case("datasets:schema_edit", "get", DATA_MANAGES, DATASET),
    Case(
        "datasets:schema_edit",
        "post",
        DATA_MANAGE_POSTED,
        DATASET,
        {"editor": "json", "descriptor_json": json.dumps(LITTER_SCHEMA)},
    ),
    Case("datasets:dataset_new", "get", DATA_CREATES),
    Case(
        "datasets:dataset_new",
        "post",
        {**DATA_CREATES, "lead": 302},
        {},
        {
            "name": "Bins emptied",
            "slug": "bins_emptied",
            "sensitivity": "internal",
            "update_frequency": "weekly",
        },
        UPLOAD,
    ),
    Case("datasets:dataset_new_confirm", "get", DATA_CREATES),
    Case(
        "datasets:dataset_new_confirm",
        "post",
        {**DATA_CREATES, "lead": 302},
        {},
        {"editor": "json", "descriptor_json": json.dumps(LITTER_SCHEMA)},
    ),
    Case("metrics:metric_list", "get", EVERYONE_READS),
    Case("metrics:metric_list_json", "get", EVERYONE_READS),
    Case("metrics:metric_list_csv", "get", EVERYONE_READS),
    Case("metrics:metric_detail", "get", METRIC_READS, METRIC),
    Case("metrics:metric_detail_json", "get", METRIC_READS, METRIC),
    Case("metrics:metric_detail_csv", "get", METRIC_READS, METRIC),
    Case("metrics:metric_history", "get", METRIC_READS, METRIC),
    Case("metrics:metric_history_json", "get", METRIC_READS, METRIC),
    Case("metrics:metric_edit", "get", METRIC_CHANGES, METRIC),
    Case("metrics:metric_edit", "post", METRIC_CHANGE_POSTED, METRIC, METRIC_EDIT_FORM),
    Case("metrics:metric_edit_yaml", "get", METRIC_CHANGES, METRIC),
    Case("metrics:metric_edit_yaml", "post", METRIC_CHANGE_POSTED, METRIC, METRIC_YAML_FORM),
    Case("metrics:metric_new", "get", METRIC_CREATES),
    Case("metrics:metric_new", "post", METRIC_CREATE_POSTED, {}, METRIC_NEW_FORM),
    Case("metrics:metric_agree", "post", METRIC_AGREES, METRIC, {"comment": ""}),
    Case("metrics:metric_chart_svg", "get", METRIC_READS, METRIC),
    Case("metrics:metric_chart_png", "get", METRIC_READS, METRIC),
    Case("metrics:metric_chart_spec", "get", METRIC_READS, METRIC),
    Case("metrics:annotation_add", "post", METRIC_ANNOTATES, METRIC, ANNOTATION_FORM),
    Case("metrics:annotation_delete", "post", METRIC_ANNOTATES, {**METRIC, "pk": "0"}),
    Case("metrics:vega_script", "get", EVERYONE_READS),
    Case("core:home", "get", {p: 302 for p in EVERYONE_READS}),
    Case("accounts:password_change", "get", {**EVERYONE_READS}),
    Case("accounts:password_change_done", "get", {**EVERYONE_READS}),
    Case("accounts:logout", "post", {p: 302 for p in EVERYONE_READS}),
    Case("okrs:tree", "get", OKR_READS),
    Case("okrs:tree_json", "get", OKR_READS),
    Case("okrs:tree_csv", "get", OKR_READS),
    Case("okrs:changes", "get", OKR_READS),
    Case("okrs:changes_json", "get", OKR_READS),
    Case("okrs:changes_csv", "get", OKR_READS),
    Case("okrs:report", "get", OKR_READS),
    Case("okrs:report_pdf", "get", OKR_READS),
    Case("okrs:mission_new", "get", MISSION_WRITES),
    Case("okrs:mission_new", "post", MISSION_WRITE_POSTED, {}, MISSION_FORM),
    Case("okrs:mission_detail", "get", OKR_READS, MISSION),
    Case("okrs:mission_detail_json", "get", OKR_READS, MISSION),
    Case("okrs:mission_edit", "get", MISSION_WRITES, MISSION),
    Case("okrs:mission_edit", "post", MISSION_WRITE_POSTED, MISSION, MISSION_EDIT_FORM),
    Case("okrs:team_okrs", "get", TEAM_READS, TEAM),
    Case("okrs:team_okrs_json", "get", TEAM_READS, TEAM),
    Case("okrs:team_okrs_csv", "get", TEAM_READS, TEAM),
    Case("okrs:team_governance", "get", TEAM_MANAGES, TEAM),
    Case("okrs:team_governance", "post", TEAM_MANAGE_POSTED, TEAM, GOVERNANCE_FORM),
    Case("okrs:objective_new", "get", TEAM_MANAGES, TEAM),
    Case("okrs:objective_new", "post", TEAM_MANAGE_POSTED, TEAM, OBJECTIVE_FORM),
    Case("okrs:quarter_close", "get", TEAM_MANAGES, CURRENT_QUARTER),
    Case("okrs:quarter_close", "post", TEAM_MANAGE_POSTED, CURRENT_QUARTER, CLOSE_FORM),
    Case("okrs:objective_detail", "get", OKR_READS, OBJECTIVE),
    Case("okrs:objective_detail_json", "get", OKR_READS, OBJECTIVE),
    Case("okrs:objective_detail", "get", OKR_PRIVATE_READS, PRIVATE_OBJECTIVE),
    Case("okrs:objective_detail_json", "get", OKR_PRIVATE_READS, PRIVATE_OBJECTIVE),
    Case("okrs:objective_edit", "get", OBJECTIVE_CHANGES, OBJECTIVE),
    Case("okrs:objective_edit", "post", OBJECTIVE_CHANGE_POSTED, OBJECTIVE, OBJECTIVE_EDIT_FORM),
    Case(
        "okrs:objective_edit",
        "post",
        {**OBJECTIVE_CHANGE_POSTED, "outsider": 404},
        PRIVATE_OBJECTIVE,
        OBJECTIVE_EDIT_FORM,
    ),
    Case("okrs:kr_new", "get", KR_ADDS, OBJECTIVE),
    Case("okrs:kr_new", "post", KR_ADD_POSTED, OBJECTIVE, KR_FORM),
    Case("okrs:kr_new", "get", {**KR_ADDS, "outsider": 404}, PRIVATE_OBJECTIVE),
    Case("okrs:kr_new", "post", {**KR_ADD_POSTED, "outsider": 404}, PRIVATE_OBJECTIVE, KR_FORM),
    Case("okrs:kr_detail", "get", OKR_READS, KEY_RESULT),
    Case("okrs:kr_detail_json", "get", OKR_READS, KEY_RESULT),
    Case("okrs:kr_detail_csv", "get", OKR_READS, KEY_RESULT),
    Case("okrs:kr_detail", "get", OKR_PRIVATE_READS, PRIVATE_KEY_RESULT),
    Case("okrs:kr_detail_json", "get", OKR_PRIVATE_READS, PRIVATE_KEY_RESULT),
    Case("okrs:kr_detail_csv", "get", OKR_PRIVATE_READS, PRIVATE_KEY_RESULT),
    Case("okrs:kr_edit", "get", KR_CHANGES, KEY_RESULT),
    Case("okrs:kr_edit", "post", KR_CHANGE_POSTED, KEY_RESULT, KR_EDIT_FORM),
    Case("okrs:kr_checkin", "post", KR_CHANGE_POSTED, KEY_RESULT, CHECKIN_FORM),
    Case(
        "okrs:kr_checkin",
        "post",
        {**KR_CHANGE_POSTED, "outsider": 404},
        PRIVATE_KEY_RESULT,
        CHECKIN_FORM,
    ),
    Case("improvement:a3_list", "get", EVERYONE_READS),
    Case("improvement:a3_list_json", "get", EVERYONE_READS),
    Case("improvement:a3_list_csv", "get", EVERYONE_READS),
    Case("improvement:team_a3s", "get", A3_READS, TEAM),
    Case("improvement:a3_new", "get", A3_EDITS, TEAM),
    Case("improvement:a3_new", "post", A3_EDIT_POSTED, TEAM, A3_NEW_FORM),
    Case("improvement:template_new", "get", A3_EDITS, TEAM),
    Case("improvement:template_new", "post", A3_EDIT_POSTED, TEAM, A3_TEMPLATE_FORM),
    Case("improvement:template_edit", "get", A3_EDITS, {**TEAM, "pk": "template"}),
    Case(
        "improvement:template_edit",
        "post",
        A3_EDIT_POSTED,
        {**TEAM, "pk": "template"},
        A3_TEMPLATE_FORM,
    ),
    Case("improvement:a3_detail", "get", A3_READS, A3_PAGE),
    Case("improvement:a3_detail_json", "get", A3_READS, A3_PAGE),
    Case("improvement:a3_print", "get", A3_READS, A3_PAGE),
    Case("improvement:a3_pdf", "get", A3_READS, A3_PAGE),
    Case("improvement:a3_edit", "get", A3_EDITS, A3_PAGE),
    Case("improvement:a3_edit", "post", A3_EDIT_POSTED, A3_PAGE, A3_HEADER_FORM),
    Case("improvement:a3_sharing", "get", A3_EDITS, A3_PAGE),
    Case("improvement:a3_sharing", "post", A3_EDIT_POSTED, A3_PAGE, {"is_open": "on"}),
    Case("improvement:a3_state", "get", A3_EDITS, A3_PAGE),
    Case("improvement:a3_state", "post", A3_EDIT_POSTED, A3_PAGE, {"state": "in_progress"}),
    Case("improvement:a3_section", "get", A3_EDITS, {**A3_PAGE, "key": "background"}),
    Case(
        "improvement:a3_section",
        "post",
        A3_EDIT_POSTED,
        {**A3_PAGE, "key": "background"},
        {"text": "Litter is what residents report most."},
    ),
    Case("improvement:a3_root_causes", "get", A3_EDITS, A3_PAGE),
    Case(
        "improvement:a3_root_causes",
        "post",
        A3_EDIT_POSTED,
        A3_PAGE,
        {"why_1": "Crews reach the street once a week."},
    ),
    Case(
        "improvement:a3_chart_add",
        "post",
        A3_CHART_POSTED,
        A3_PAGE,
        {"metric": "<metric>", "value": ""},
    ),
    Case("improvement:a3_chart_add", "get", A3_EDITS, A3_PAGE),
    Case("improvement:a3_chart_remove", "post", A3_EDIT_POSTED, {**A3_PAGE, "link": "link"}),
    Case("improvement:a3_voice_add", "get", A3_EDITS, A3_PAGE),
    Case(
        "improvement:a3_voice_add",
        "post",
        A3_EDIT_POSTED,
        A3_PAGE,
        {"section": "current_condition", "kind": "quote", "text": "The bin overflows."},
    ),
    Case("improvement:a3_voice_remove", "post", A3_EDIT_POSTED, {**A3_PAGE, "voice": "voice"}),
    Case("improvement:countermeasure_new", "get", A3_EDITS, A3_PAGE),
    Case(
        "improvement:countermeasure_new",
        "post",
        A3_EDIT_POSTED,
        A3_PAGE,
        {"title": "Weekend sweeps"},
    ),
    Case("improvement:countermeasure_edit", "get", A3_EDITS, {**A3_PAGE, "cm": "cm"}),
    Case(
        "improvement:countermeasure_edit",
        "post",
        A3_EDIT_POSTED,
        {**A3_PAGE, "cm": "cm"},
        {"title": "A crew on litter only"},
    ),
    Case("improvement:cycle_new", "get", A3_EDITS, {**A3_PAGE, "cm": "cm"}),
    Case("improvement:cycle_new", "post", A3_EDIT_POSTED, {**A3_PAGE, "cm": "cm"}, A3_CYCLE_FORM),
    Case("improvement:action_new", "get", A3_EDITS, A3_PAGE),
    Case("improvement:action_new", "post", A3_EDIT_POSTED, A3_PAGE, A3_ACTION_FORM),
    Case("improvement:action_edit", "get", A3_EDITS, {**A3_PAGE, "action": "action"}),
    Case(
        "improvement:action_edit",
        "post",
        A3_EDIT_POSTED,
        {**A3_PAGE, "action": "action"},
        A3_ACTION_FORM,
    ),
    Case("improvement:action_done", "post", A3_EDIT_POSTED, {**A3_PAGE, "action": "action"}),
    Case("improvement:cycle_detail", "get", A3_READS, {"pk": "cycle-plan"}),
    Case("improvement:cycle_detail_json", "get", A3_READS, {"pk": "cycle-plan"}),
    Case("improvement:cycle_detail", "get", A3_READS, {"pk": "cycle-act"}),
    Case("improvement:cycle_plan", "get", A3_EDITS, {"pk": "cycle-plan"}),
    Case("improvement:cycle_plan", "post", A3_EDIT_POSTED, {"pk": "cycle-plan"}, A3_CYCLE_FORM),
    Case(
        "improvement:cycle_start",
        "post",
        A3_EDIT_POSTED,
        {"pk": "cycle-plan"},
        {"started_on": "2026-01-19"},
    ),
    Case(
        "improvement:cycle_do",
        "post",
        A3_EDIT_POSTED,
        {"pk": "cycle-do"},
        {"ended_on": "2026-01-25", "what_happened": "Swept every Saturday."},
    ),
    Case(
        "improvement:cycle_study",
        "post",
        A3_EDIT_POSTED,
        {"pk": "cycle-study"},
        {"study_notes": "Too soon to tell."},
    ),
    Case(
        "improvement:cycle_act",
        "post",
        A3_EDIT_POSTED,
        {"pk": "cycle-act"},
        {"decision": "adapt", "act_notes": "Try it on weekdays too."},
    ),
    Case("improvement:cycle_rebase", "post", A3_REBASES, {"pk": "cycle-rebase"}),
    Case("meetings:dashboard", "get", MEETING_READS, TEAM),
    Case("meetings:dashboard_json", "get", MEETING_READS, TEAM),
    Case("meetings:dashboard_csv", "get", MEETING_READS, TEAM),
    Case("meetings:meeting_list", "get", MEETING_READS, TEAM),
    Case("meetings:meeting_list_json", "get", MEETING_READS, TEAM),
    Case("meetings:meeting_list_csv", "get", MEETING_READS, TEAM),
    Case("meetings:meeting_new", "get", MEETING_EDITS, TEAM),
    Case("meetings:meeting_new", "post", MEETING_EDIT_POSTED, TEAM, MEETING_FORM),
    Case("meetings:cadence_edit", "get", MEETING_EDITS, TEAM),
    Case("meetings:cadence_edit", "post", MEETING_EDIT_POSTED, TEAM, CADENCE_FORM),
    Case("meetings:action_list", "get", MEETING_READS, TEAM),
    Case("meetings:action_list_json", "get", MEETING_READS, TEAM),
    Case("meetings:action_list_csv", "get", MEETING_READS, TEAM),
    Case("meetings:team_action_new", "get", MEETING_EDITS, TEAM),
    Case("meetings:team_action_new", "post", MEETING_EDIT_POSTED, TEAM, ACTION_FORM),
    Case("meetings:meeting_detail", "get", MEETING_READS, MEETING),
    Case("meetings:meeting_detail_json", "get", MEETING_READS, MEETING),
    Case("meetings:meeting_detail_csv", "get", MEETING_READS, MEETING),
    Case("meetings:agenda_draft", "post", MEETING_EDIT_POSTED, MEETING),
    Case("meetings:item_new", "get", MEETING_EDITS, MEETING),
    Case("meetings:item_new", "post", MEETING_EDIT_POSTED, MEETING, {"title": "Depot move"}),
    Case("meetings:item_remove", "post", MEETING_EDIT_POSTED, MEETING_ITEM),
    Case("meetings:item_move", "post", MEETING_EDIT_POSTED, MEETING_ITEM, {"direction": "down"}),
    Case(
        "meetings:meeting_cancel",
        "post",
        MEETING_EDIT_POSTED,
        MEETING,
        {"reason": "Half the team is at the depot move."},
    ),
    Case("meetings:commentary_list", "get", MEETING_READS, MEETING),
    Case("meetings:commentary_request", "post", MEETING_EDIT_POSTED, MEETING),
    Case("meetings:commentary_write", "get", MEETING_EDITS, MEETING_COMMENTARY),
    Case(
        "meetings:commentary_write",
        "post",
        MEETING_EDIT_POSTED,
        MEETING_COMMENTARY,
        {"text": "Reports rose after the market."},
    ),
    Case("meetings:present", "get", MEETING_READS, MEETING),
    Case("meetings:note_add", "post", MEETING_EDIT_POSTED, MEETING, NOTE_FORM),
    Case("meetings:action_add", "post", MEETING_EDIT_POSTED, MEETING, ACTION_FORM),
    Case("meetings:meeting_end", "get", MEETING_EDITS, MEETING),
    Case("meetings:meeting_end", "post", MEETING_EDIT_POSTED, MEETING, {"attendees": "<lead>"}),
    Case("meetings:follow_up", "get", MEETING_READS, HELD_MEETING),
    Case("meetings:follow_up_send", "post", MEETING_EDIT_POSTED, HELD_MEETING),
    Case("meetings:pack_draft", "get", MEETING_READS, MEETING),
    Case("meetings:pack_draft_pdf", "get", MEETING_READS, MEETING),
    Case("meetings:pack_issue", "post", MEETING_EDIT_POSTED, MEETING),
    Case("meetings:action_close", "post", MEETING_EDIT_POSTED, MEETING_ACTION, {"outcome": "done"}),
    Case("meetings:action_reopen", "post", MEETING_EDIT_POSTED, MEETING_ACTION),
    Case("meetings:pack_detail", "get", MEETING_READS, MEETING_PACK),
    Case("meetings:pack_detail_json", "get", MEETING_READS, MEETING_PACK),
    Case("meetings:pack_pdf", "get", MEETING_READS, MEETING_PACK),
    Case("meetings:weeknote_list", "get", MEETING_READS, TEAM),
    Case("meetings:weeknote_list_json", "get", MEETING_READS, TEAM),
    Case("meetings:weeknote_feed", "get", WEEKNOTE_FEED_READS, TEAM),
    Case("meetings:weeknote_draft", "post", MEETING_EDIT_POSTED, TEAM, {"week": ""}),
    Case("meetings:weeknote_detail", "get", MEETING_READS, PUBLISHED_WEEKNOTE),
    Case("meetings:weeknote_detail_json", "get", MEETING_READS, PUBLISHED_WEEKNOTE),
    # A draft is for the team's leads and members.
    Case("meetings:weeknote_detail", "get", MEETING_EDITS, DRAFT_WEEKNOTE),
    Case("meetings:weeknote_detail_json", "get", MEETING_EDITS, DRAFT_WEEKNOTE),
    Case("meetings:weeknote_edit", "get", MEETING_EDITS, DRAFT_WEEKNOTE),
    Case("meetings:weeknote_edit", "post", MEETING_EDIT_POSTED, DRAFT_WEEKNOTE, WEEKNOTE_FORM),
    Case("meetings:weeknote_take_draft", "post", MEETING_EDIT_POSTED, DRAFT_WEEKNOTE),
    Case("meetings:weeknote_publish", "post", MEETING_EDIT_POSTED, DRAFT_WEEKNOTE),
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


# The improvement pages that need no A3 of their own.
IMPROVEMENT_LISTS = {
    "improvement:a3_list",
    "improvement:a3_list_json",
    "improvement:a3_list_csv",
    "improvement:team_a3s",
    "improvement:a3_new",
    "improvement:template_new",
}
A3_PARTS = ("link", "voice", "cm", "action")

DATA_WITH_LOADS = {
    "datasets:run_detail",
    "datasets:run_detail_json",
    "datasets:run_problems",
    "datasets:version_csv",
    "datasets:version_xlsx",
    "datasets:version_quarantine",
    "datasets:version_rollback",
}


def _load_two_versions(personas, folder) -> int:  # type: ignore[no-untyped-def]
    """Version 1 sets a bad row aside (so it has a problem report and a quarantine table);
    version 2 is clean. Returns the first run's id."""
    dataset = personas.restricted_dataset
    bad = LITTER_CSV + "4,not a date,South,2\n"
    first = load_csv(dataset, bad, folder, bad_rows="quarantine", user=personas.lead)
    assert first.status == "succeeded" and first.report_path, first.summary
    load_csv(dataset, LITTER_CSV, folder, user=personas.lead)
    return first.pk


def _make_metric() -> None:
    """Team Clean's metric, saved as a trusted import would (no data loaded: the pages work
    before the first computation too)."""
    from civicloop.metrics import services

    _, version = services.save_definition(METRIC_DEFINITION, None, "First definition.")
    assert version is not None


def _this_quarter():  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from civicloop.okrs.quarters import Quarter

    return Quarter.containing(timezone.localdate())


def _make_okrs(personas) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A mission, Team Clean's public and private objectives for this year, and a key result of
    each for this quarter (owned by the editor). Returns the placeholders' pks."""
    from civicloop.okrs import services

    quarter = _this_quarter()
    mission = services.save_mission(
        personas.lead,
        {"title": "Clean, safe streets", "public_value": "Residents walk clean streets."},
    )
    assert mission.slug == MISSION["slug"]
    made: dict[str, int] = {}
    for private in (False, True):
        objective = services.create_objective(
            personas.lead,
            personas.team,
            {
                "title": "A depot move nobody may know of" if private else "Fewer fly-tips",
                "mission": mission.slug,
                "year": quarter.year,
                "is_private": private,
            },
        )
        key_result = services.create_key_result(
            personas.editor,
            objective,
            personas.team,
            {
                "title": "Clear fly-tips within 5 days",
                "quarter": quarter.code,
                "start_value": "10",
                "target_value": "5",
                "unit": "days",
            },
        )
        prefix = "private-" if private else ""
        made[f"{prefix}objective"] = objective.pk
        made[f"{prefix}key-result"] = key_result.pk
    return made


def _make_a3(  # type: ignore[no-untyped-def]
    personas, request, *, cycle_step: str | None = None, with_data: bool = False
) -> dict[str, int]:
    """Team Clean's A3 on litter, ready to move to in progress (every section written), with a
    chart of the metric, a resident's quote, a template, and a PDSA cycle at each step: planned,
    started, ended, studied, and adopted with the rebase waiting for the steward (`cycle_step`:
    only the cycle at that step). `with_data`: four weeks of litter reports (January 2026), for
    the Study step to read. Returns the placeholders' pks."""
    from datetime import date, timedelta

    from django.utils import timezone

    from civicloop.improvement import services
    from civicloop.improvement.models import PdsaCycle
    from civicloop.metrics import services as metric_services
    from civicloop.metrics.models import Metric

    folder = request.getfixturevalue("data_dir")
    _make_metric()
    if with_data:
        lines = ["report_id,reported_on,district,bags"]
        for n in range(56):  # two reports a day, 5 Jan to 1 Feb 2026
            day = date(2026, 1, 5) + timedelta(days=n // 2)
            lines.append(f"{n + 1},{day.isoformat()},{'North' if n % 2 else 'South'},2")
        load_csv(personas.restricted_dataset, "\n".join(lines) + "\n", folder, user=personas.lead)
        metric_services.refresh()
    metric = Metric.objects.get(slug=METRIC["slug"])
    editor = personas.editor
    template = services.save_template(
        personas.lead, personas.team, {"name": "Our A3", "fishbone_categories": "Crews\nPlace"}
    )
    a3 = services.create_a3(editor, personas.team, {"title": "Litter waits a week"})
    services.update_a3(
        editor,
        a3,
        {
            "background": "Litter is what residents report most.",
            "current_condition": "About 14 reports a week.",
            "goal": "Under 10 a week.",
            "goal_metric": metric,
            "goal_target": 10.0,
        },
    )
    services.set_root_causes(editor, a3, whys=["Crews reach the street once a week."])
    link = services.link_metric(editor, a3, metric)
    voice = services.add_voice(editor, a3, {"text": "The bin overflows every weekend."})
    countermeasure = services.save_countermeasure(editor, a3, {"title": "Weekend sweeps"})
    action = services.save_action(
        editor, a3, {"what": "Brief the crews", "owner": editor, "due_on": date(2026, 3, 2)}
    )
    plan = {
        "change": "Weekend sweeps",
        "metric": metric,
        "prediction": "Fewer reports each week.",
        "predicted_direction": "decrease",
    }
    cycles = {}
    for step in ("plan", "do", "study", "act", "rebase"):
        if cycle_step not in (None, step):
            continue
        cycle = services.add_cycle(editor, countermeasure, plan)
        if step != "plan":
            services.start_cycle(editor, cycle, date(2026, 1, 19))
        if step in ("study", "act", "rebase"):
            services.record_do(editor, cycle, date(2026, 1, 25), "Swept every Saturday.")
        cycles[f"cycle-{step}"] = cycle.pk
    # Studied and adopted by hand: the verdict itself is the Study tests' business.
    PdsaCycle.objects.filter(pk__in=[cycles.get("cycle-act"), cycles.get("cycle-rebase")]).update(
        studied_at=timezone.now(), verdict={"signal": "too_soon"}, study_notes="Too soon."
    )
    PdsaCycle.objects.filter(pk=cycles.get("cycle-rebase")).update(
        decision="adopt", decided_on=date(2026, 2, 2), rebase_pending=True
    )
    return {
        "a3": a3.pk,
        "template": template.pk,
        "link": link.pk,
        "voice": voice.pk,
        "cm": countermeasure.pk,
        "action": action.pk,
        **cycles,
    }


def _make_meetings(personas, request) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Team Clean's meeting next week (the metric and a topic on its agenda, an action owned by
    the editor, an issued pack), last week's meeting (held), and two weeknotes: last week's
    draft and the week before's, published. Returns the placeholders' pks."""
    from datetime import timedelta

    from django.utils import timezone

    from civicloop.meetings import pack, services, weeknotes
    from civicloop.metrics.models import Metric

    request.getfixturevalue("data_dir")
    _make_metric()
    metric = Metric.objects.get(slug=METRIC["slug"])
    lead, team = personas.lead, personas.team
    today = timezone.localdate()
    meeting = services.schedule(team, lead, on=today + timedelta(days=7))
    item = services.add_item(meeting, lead, title="", metric=metric)
    services.add_item(meeting, lead, title="Hot spots for the cameras")
    action = services.add_action(
        team,
        lead,
        text="Map the hot spots",
        owner=personas.editor,
        due_on=today + timedelta(days=5),
        meeting=meeting,
    )
    issued = pack.issue(meeting, lead)
    held = services.schedule(team, lead, on=today - timedelta(days=7))
    services.end(held, lead, [lead, personas.editor])
    monday = weeknotes.monday_of(today)
    draft = weeknotes.draft_weeknote(team, monday - timedelta(weeks=1), by=lead)
    published = weeknotes.draft_weeknote(team, monday - timedelta(weeks=2), by=lead)
    weeknotes.publish_weeknote(published, lead)
    return {
        "meeting": meeting.pk,
        "item": item.pk,
        "action": action.pk,
        "pack": issued.pk,
        "held-meeting": held.pk,
        "weeknote": draft.pk,
        "published-weeknote": published.pk,
    }


def _resolve_kwargs(case: Case, personas, request, client) -> dict[str, object]:  # type: ignore[no-untyped-def]
    if case.url_name == "organizations:member_change":
        viewer_membership = Membership.objects.get(team=personas.team, person=personas.viewer)
        return {**case.kwargs, "pk": viewer_membership.pk}
    if case.url_name.startswith("okrs:"):
        made = _make_okrs(personas)
        kwargs: dict[str, object] = dict(case.kwargs)
        if kwargs.get("pk") in made:
            kwargs["pk"] = made[str(kwargs["pk"])]
        if kwargs.get("quarter") == "current":
            kwargs["quarter"] = _this_quarter().code
        return kwargs
    if case.url_name.startswith("improvement:") and case.url_name not in IMPROVEMENT_LISTS:
        placeholder = str(case.kwargs.get("pk", ""))
        made = _make_a3(
            personas,
            request,
            cycle_step=placeholder.removeprefix("cycle-")
            if placeholder.startswith("cycle-")
            else "",
            with_data=case.url_name == "improvement:cycle_study",
        )
        return {
            k: made.get(str(v), v) if k in ("pk", *A3_PARTS) else v for k, v in case.kwargs.items()
        }
    if case.url_name.startswith("meetings:"):
        made = _make_meetings(personas, request)
        return {
            k: made.get(str(v), v) if k in ("pk", "item") else v for k, v in case.kwargs.items()
        }
    if case.url_name.startswith("datasets:"):
        request.getfixturevalue("data_dir")  # a throwaway warehouse and archive
    if case.url_name.startswith("metrics:") and case.url_name != "metrics:vega_script":
        request.getfixturevalue("data_dir")
        _make_metric()
    if case.url_name == "metrics:annotation_delete":
        from civicloop.metrics.models import Annotation, Metric

        marked = Annotation.objects.create(
            metric=Metric.objects.get(slug=METRIC["slug"]),
            on="2026-01-12",
            text="Crews moved to a four-day week",
            author=personas.editor,
        )
        return {**case.kwargs, "pk": marked.pk}
    if case.url_name in DATA_WITH_LOADS:
        folder = request.getfixturevalue("tmp_path")
        run_id = _load_two_versions(personas, folder)
        if case.url_name.startswith("datasets:run_"):
            return {**case.kwargs, "pk": run_id}
    if case.url_name == "datasets:dataset_new_confirm":
        # The lead starts a new dataset for real; anyone else is refused before the token
        # is looked at, so a made-up one will do.
        token = "not-a-token"
        if client.session.get("_auth_user_id") == str(personas.lead.pk):
            started = client.post(
                reverse("datasets:dataset_new"),
                {
                    "name": "Bins emptied",
                    "slug": "bins_emptied",
                    "owner": personas.department.pk,
                    "sensitivity": "internal",
                    "update_frequency": "weekly",
                    "file": SimpleUploadedFile("bins.csv", LITTER_CSV.encode()),
                },
            )
            assert started.status_code == 302, started.content.decode()[:2000]
            token = started["Location"].rstrip("/").rsplit("/", 1)[1]
        return {**case.kwargs, "token": token}
    return dict(case.kwargs)


def _resolve_data(case: Case, personas, client) -> dict[str, object]:  # type: ignore[no-untyped-def]
    data: dict[str, object] = dict(case.data)
    if case.url_name == "datasets:dataset_new":
        data["owner"] = personas.department.pk
    if case.url_name.startswith("okrs:"):
        from civicloop.okrs.models import KeyResult
        from civicloop.organizations.models import Team

        quarter = _this_quarter()
        signed_in = client.session.get("_auth_user_id")
        writes_for = Team.objects.filter(
            memberships__person_id=signed_in, memberships__role__in=("lead", "member")
        ).order_by("name")
        team = writes_for.first() or personas.team
        filled = {"<year>": str(quarter.year), "<quarter>": quarter.code, "<team>": team.pk}
        data = {k: filled.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    if case.url_name == "okrs:quarter_close":
        for kr in KeyResult.objects.filter(
            team=personas.team, year=quarter.year, quarter=quarter.number
        ):
            data[f"kr-{kr.pk}-score"] = "40"
            data[f"kr-{kr.pk}-outcome"] = "completed"
    if case.url_name.startswith("improvement:"):
        from civicloop.metrics.models import Metric

        metric = Metric.objects.filter(slug=METRIC["slug"]).first()
        filled = {"<owner>": personas.editor.pk, "<metric>": metric.pk if metric else ""}
        data = {k: filled.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    if case.url_name.startswith("meetings:"):
        from datetime import timedelta

        from django.utils import timezone

        today = timezone.localdate()
        free_day = today + timedelta(days=35 - today.weekday())  # a Monday, nobody meets
        filled = {
            "<lead>": personas.lead.pk,
            "<editor>": personas.editor.pk,
            "<free-day>": free_day.isoformat(),
            "<weekday>": str(free_day.weekday()),
        }
        data = {k: filled.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    for name, (file_name, content) in case.files.items():
        data[name] = SimpleUploadedFile(file_name, content.encode())
    return data


NOT_TO_SIGN_IN = {"core:home", "accounts:logout"}


@pytest.mark.parametrize("persona", ["lead", "editor", "viewer", "guest", "outsider", "anonymous"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method}-{c.url_name.split(':')[1]}")
def test_view_permissions(case: Case, persona: str, personas, client_as, request) -> None:  # type: ignore[no-untyped-def]
    client = client_as(persona)
    url = reverse(case.url_name, kwargs=_resolve_kwargs(case, personas, request, client))
    response = getattr(client, case.method)(url, _resolve_data(case, personas, client))
    expected = case.expected[persona]
    assert response.status_code == expected, (
        f"{persona} {case.method.upper()} {url}: expected {expected}, got {response.status_code}"
    )
    if persona == "anonymous" and expected == 302 and case.url_name not in NOT_TO_SIGN_IN:
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
