"""The pack, one document for the meeting: what it holds (each agenda metric with its chart,
definition, commentary or its absence; OKRs, A3s, the actions log, where the numbers came
from), frozen when issued whatever is loaded or redefined later, numbered when issued again,
as a PDF with page numbers, and only what its reader may see, people's text made safe."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zlib
from datetime import timedelta

import pytest

from civicloop.core.pdf import PdfUnavailable, html_class
from civicloop.meetings import pack, services
from civicloop.meetings.models import ItemKind, Meeting, Pack
from civicloop.meetings.tests.conftest import (
    COMMENTARY,
    CONCERN,
    MAJOR,
    City,
    add_crew_metrics,
    meeting,
    ready_meeting,
    refresh_all,
    reports_csv,
    text,
    today,
    url,
)
from civicloop.metrics.models import SeriesRun
from civicloop.testing import load_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(city: City) -> Meeting:
    return ready_meeting(city)


def _section(rendered: str, anchor: str) -> str:
    found = re.search(rf'<section [^>]*id="{anchor}".*?</section>', rendered, re.S)
    assert found, anchor
    return found.group(0)


def test_the_snapshot_holds_each_agenda_metric_with_what_explains_it(
    city: City, ready: Meeting
) -> None:
    snapshot, sources = pack.build_snapshot(ready, city.personas.lead)
    assert snapshot["draft"] is True and snapshot["number"] is None
    metrics = {m["slug"]: m for m in snapshot["metrics"]}
    assert list(metrics) == [city.concern.slug, city.failing.slug, city.stale.slug]
    for entry in metrics.values():
        assert entry["chart"]["svg"].lstrip().startswith("<svg")
        assert entry["chart"]["description"].startswith(entry["name"])
        assert entry["how"] and entry["version"] == 1
        assert entry["question"].endswith("are the streets getting cleaner?")
    # Drafted from the data, so each says what needs attention (its sentences say why).
    assert [m["attention"] for m in metrics.values()] == [
        ["Special cause of concern"],
        ["Consistently failing its target"],
        ["Stale data"],
    ]
    concern = metrics[city.concern.slug]
    assert concern["description"] == CONCERN["description"]
    assert concern["variation"] == "special_cause_concern"
    assert "above the upper process limit" in concern["variation_sentence"]
    assert concern["commentary"]["text"] == COMMENTARY
    assert concern["commentary"]["author"] == "Lena Lead"
    failing = metrics[city.failing.slug]
    assert failing["commentary"]["written"] is False
    assert failing["commentary"]["asked_of"] == "Lena Lead"
    assert failing["target_text"] == "500"
    ((okr_objective),) = snapshot["okrs"]
    assert okr_objective["objective"] == "Fewer littered streets"
    (kr,) = okr_objective["key_results"]
    assert (kr["title"], kr["status"], kr["current"], kr["severity"]) == (
        "Streets swept by noon",
        "Off track",
        "25 streets",
        2,
    )
    (a3,) = snapshot["a3s"]
    assert a3["title"] == "Litter waits a week" and a3["due_for_review"] is True
    assert (a3["steps"], a3["steps_overdue"]) == (1, 1)
    (action,) = snapshot["actions"]
    assert action["text"] == "Ask the hauler for routes" and action["overdue"] is True
    assert action["linked"] == city.concern.name
    assert snapshot["counts"]["commentary_written"] == 1
    assert snapshot["counts"]["commentary_asked"] == 3
    assert sources == snapshot["sources"]
    for source, metric in zip(sources, (city.concern, city.failing, city.stale), strict=True):
        run = SeriesRun.objects.filter(metric=metric).first()
        assert source["metric"] == metric.slug
        assert (source["metric_version"], source["dataset_version"]) == (1, 1)
        assert source["run_id"] == run.pk
        assert source["dataset_version_id"] == run.dataset_version_id


def test_the_pack_reads_as_one_document(city: City, ready: Meeting) -> None:
    snapshot, _ = pack.build_snapshot(ready, city.personas.lead)
    rendered = pack.render_html(snapshot)
    words = text(rendered)
    assert "Draft: built from the data as it is now" in words
    assert f"Team Clean performance meeting {ready.on:%A %d %B %Y} at 10:00, Depot room 2." in (
        words
    )
    contents = _section(rendered.replace('class="cover"', 'id="cover" class="cover"'), "cover")
    for entry in (city.concern.name, city.failing.name, "Actions log", "Where the numbers"):
        assert entry in contents
    attention_page = text(_section(rendered, "attention"))
    assert "Commentary: 1 of 3 written." in attention_page
    assert f"Not written: {city.failing.name} (Lena Lead)." in attention_page
    concern = _section(rendered, f"metric-{city.concern.slug}")
    assert "<strong>market week</strong>" in concern
    assert 'src="data:image/svg+xml;base64,' in concern
    failing = text(_section(rendered, f"metric-{city.failing.slug}"))
    assert "No commentary: asked of Lena Lead, not written." in failing
    assert "Consistently fails the target" in failing or "consistently" in failing.lower()
    assert "Streets swept by noon" in text(_section(rendered, "okrs"))
    assert "Litter waits a week" in text(_section(rendered, "a3s"))
    assert "Ask the hauler for routes" in text(_section(rendered, "actions"))
    sources = text(_section(rendered, "sources"))
    assert f"{city.concern.name} 1 street_reports 1" in sources


def test_an_issued_pack_never_changes_when_data_is_loaded_or_redefined(
    city: City, ready: Meeting, client_as
) -> None:  # type: ignore[no-untyped-def]
    from civicloop.metrics import services as metric_services

    personas = city.personas
    issued = pack.issue(ready, personas.lead)
    frozen = pack.render_html(issued.snapshot)
    page = client_as("viewer").get(url("pack_detail", pk=issued.pk)).content
    live_before = pack.render_html(pack.build_snapshot(ready, personas.lead)[0])

    # New data (a bigger spike) and a new definition of the metric, both computed.
    reports = city.concern.dataset
    run = load_csv(reports, reports_csv(spike=60), city.folder, name="again.csv")
    assert run.status == "succeeded", run.summary
    metric_services.save_definition(
        {**CONCERN, "description": "Reports, now counting duplicates once."}, None, "Clearer."
    )
    refresh_all()
    assert SeriesRun.objects.filter(metric=city.concern).count() == 3

    stored = Pack.objects.get(pk=issued.pk)
    assert pack.render_html(stored.snapshot) == frozen
    assert client_as("viewer").get(url("pack_detail", pk=issued.pk)).content == page
    live, sources = pack.build_snapshot(ready, personas.lead)
    assert pack.render_html(live) != live_before
    concern = next(m for m in live["metrics"] if m["slug"] == city.concern.slug)
    assert concern["latest"]["value"] == 8 + 13 + 60
    assert concern["description"] == "Reports, now counting duplicates once."
    assert (sources[0]["metric_version"], sources[0]["dataset_version"]) == (2, 2)
    frozen_concern = next(m for m in stored.snapshot["metrics"] if m["slug"] == city.concern.slug)
    assert frozen_concern["latest"]["value"] == 8 + 13 + 30
    assert (stored.sources[0]["metric_version"], stored.sources[0]["dataset_version"]) == (1, 1)


def test_the_digest_is_stable_and_issuing_again_makes_pack_two(city: City, ready: Meeting) -> None:
    personas = city.personas
    first = pack.issue(ready, personas.lead)
    stored = Pack.objects.get(pk=first.pk)
    canonical = json.dumps(stored.snapshot, sort_keys=True, separators=(",", ":")).encode()
    assert stored.digest == hashlib.sha256(canonical).hexdigest() == first.digest
    assert (first.number, first.snapshot["number"], first.snapshot["draft"]) == (1, 1, False)
    snapshot_before = stored.snapshot
    services.add_item(ready, personas.editor, title="Depot move")
    second = pack.issue(ready, personas.editor)
    assert second.number == 2 and second.digest != first.digest
    again = Pack.objects.get(pk=first.pk)
    assert (again.snapshot, again.digest, again.number) == (snapshot_before, first.digest, 1)
    assert "Depot move" not in pack.render_html(again.snapshot)
    assert "Depot move" in pack.render_html(second.snapshot)
    assert "pack 2" in pack.render_html(second.snapshot)
    assert pack.filename(second.snapshot) == f"pack-team-clean-{ready.on.isoformat()}-2"


def test_a_pack_is_issued_by_the_team_for_a_meeting_with_an_agenda(
    city: City, ready: Meeting
) -> None:
    personas = city.personas
    with pytest.raises(services.NotAllowed):
        pack.issue(ready, personas.viewer)
    empty = meeting(personas, today() + timedelta(days=21))
    with pytest.raises(services.MeetingError) as refused:
        pack.issue(empty, personas.lead)
    assert "The agenda is empty" in str(refused.value)
    services.add_item(empty, personas.lead, title="Something")
    services.cancel(empty, personas.lead, "Snow.")
    with pytest.raises(services.MeetingError):
        pack.issue(empty, personas.lead)
    assert not Pack.objects.exists()


def pdf_objects(pdf: bytes) -> bytes:
    """The PDF's objects as text, with those packed in compressed object streams unpacked."""
    parts = [pdf]
    for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", pdf, re.S):
        header = match.group(1)
        length = re.search(rb"/Length\s+(\d+)", header)
        if b"/ObjStm" in header and b"/FlateDecode" in header and length:
            parts.append(zlib.decompress(pdf[match.end() : match.end() + int(length.group(1))]))
    return b"\n".join(parts)


def test_the_pdf_has_a_page_per_metric_and_numbered_pages(
    city: City, ready: Meeting, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    try:
        html_class()
    except PdfUnavailable as error:
        pytest.skip(f"WeasyPrint cannot run here: {error}")
    issued = pack.issue(ready, city.personas.lead)
    body = pack.render_pdf(issued.snapshot)
    assert body.startswith(b"%PDF-")
    (count,) = re.findall(rb"/Type\s*/Pages\b.*?/Count\s+(\d+)", pdf_objects(body), re.S)
    pages = int(count)
    metrics = len(issued.snapshot["metrics"])
    # Cover, attention, one page per metric, then OKRs, A3s, actions and sources.
    assert pages >= metrics + 6
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext is not installed: the page numbers' text is not checked")
    written = tmp_path / "pack.pdf"
    written.write_bytes(body)
    words = subprocess.run(
        [pdftotext, "-layout", str(written), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Page 1 of {pages}" in words and f"Page {pages} of {pages}" in words
    assert f"Team Clean · {ready.on.isoformat()} · pack 1" in words
    assert city.concern.name in words and "Actions log" in words


def test_a_reader_who_may_not_see_a_metric_gets_it_withheld(city: City) -> None:
    _, private = add_crew_metrics(city)
    personas = city.personas
    m = meeting(personas)
    services.draft_agenda(m, personas.lead)
    item = m.items.get(metric=private)
    assert "above the upper process limit" in item.reason
    issued = pack.issue(m, personas.lead)
    for_lead = pack.render_html(issued.snapshot, reader=personas.lead)
    for_guest = pack.render_html(issued.snapshot, reader=personas.guest)
    mine = _section(for_lead, f"metric-{private.slug}")
    theirs = _section(for_guest, f"metric-{private.slug}")
    assert "data:image" in mine and "data:image" not in theirs
    assert "This metric's data is withheld from you" in theirs
    assert private.name in theirs  # its name stays, so the agenda reads whole
    # Not a number of it anywhere in the guest's pack: not in the agenda's reasons either.
    latest = next(e for e in issued.snapshot["metrics"] if e["slug"] == private.slug)["latest"]
    assert latest["text"] == "41"
    assert item.reason not in for_guest
    assert "(41 notes)" not in for_guest


def test_a_reader_who_sees_a_metric_only_because_it_is_public_gets_small_counts_hidden(
    city: City,
) -> None:
    public, _ = add_crew_metrics(city)
    personas = city.personas
    m = meeting(personas)
    services.add_item(m, personas.lead, title="", metric=public, reason="Asked for by the BID.")
    issued = pack.issue(m, personas.lead)
    assert MAJOR[23 % 7] == 3
    mine = _section(
        pack.render_html(issued.snapshot, reader=personas.lead), f"metric-{public.slug}"
    )
    assert '<p class="latest">3 <span class="meta">incidents</span>' in mine
    # The guest may see the metric (it is public) but not its small counts, as everywhere
    # else: not in a draft built for them, nor in the pack the lead issued.
    draft, _ = pack.build_snapshot(m, personas.guest)
    drafted = _section(pack.render_html(draft, reader=personas.guest), f"metric-{public.slug}")
    theirs = _section(
        pack.render_html(issued.snapshot, reader=personas.guest), f"metric-{public.slug}"
    )
    for section in (drafted, theirs):
        assert '<p class="latest">3 <span class="meta">' not in section, (
            "the pack shows the guest a small count every page hides from them"
        )
        assert "data:image" not in section  # nor the chart drawn from them
    assert "withheld" in theirs


def test_peoples_text_is_made_safe_in_the_pack(city: City) -> None:
    personas = city.personas
    m = meeting(personas)
    services.add_item(
        m, personas.lead, title='<img src=x onerror="alert(1)">', metric=city.concern, reason=""
    )
    services.write_commentary(
        m,
        city.concern,
        personas.lead,
        "<script>alert('c')</script> **Bold** words and [a link](javascript:alert(2)) "
        '<a href="https://example.org" onclick="alert(3)">site</a>',
    )
    services.add_action(
        personas.team,
        personas.lead,
        text="<b onmouseover=alert(4)>Sweep</b>",
        owner=personas.editor,
        due_on=today(),
        meeting=m,
    )
    issued = pack.issue(m, personas.lead)
    for rendered in (
        pack.render_html(issued.snapshot),
        pack.render_html(issued.snapshot, for_pdf=True),
    ):
        assert "<script>alert" not in rendered
        assert "<img src=x" not in rendered and "&lt;img src=x onerror=" in rendered
        assert "javascript:" not in rendered
        assert "onclick" not in rendered and "onmouseover=alert" not in rendered.replace(
            "&lt;b onmouseover=alert(4)&gt;", ""
        )
        assert "<strong>Bold</strong>" in rendered
        assert "&lt;b onmouseover=alert(4)&gt;Sweep&lt;/b&gt;" in rendered


def test_the_pack_footer_is_safe_css_for_any_team_name() -> None:
    assert pack.css_string('Team "Clean"; } body { x') == (
        "Team \\22 Clean\\22 \\3b  \\7d  body \\7b  x"
    )
    assert pack.css_string("Équipe") == "\\c9 quipe"


def test_items_other_than_metrics_are_in_the_agenda_not_the_metric_pages(
    city: City, ready: Meeting
) -> None:
    snapshot, _ = pack.build_snapshot(ready, city.personas.lead)
    kinds = [a["kind_code"] for a in snapshot["agenda"]]
    assert kinds.count(ItemKind.METRIC) == len(snapshot["metrics"]) == 3
    assert {ItemKind.KEY_RESULT, ItemKind.ACTION, ItemKind.A3} <= set(kinds)
    anchors = [a["anchor"] for a in snapshot["agenda"] if a["kind_code"] == ItemKind.METRIC]
    assert anchors == [m["anchor"] for m in snapshot["metrics"]]
    assert snapshot["meeting"]["previous"] == f"{today() - timedelta(days=14):%d %b %Y}"
