"""The demo city's Team Clean holds a performance meeting end to end in a real Chromium, with
axe-core (WCAG 2.2 AA) on every page it visits.

Grace Lin, lead of Team Clean and steward of its metrics, signs in with the demo's password and:
reads the team dashboard (the metrics with a special cause of concern first, then those failing
their target) and filters it to one district; opens the next meeting (the demo's cadence is
fortnightly on Tuesdays) and drafts its agenda again from the real signals, with the open action
from the last meeting carried; adds an item, asks the owners for commentary (an email) and
writes one; presents the meeting (one item per screen, arrow keys to move) and captures a
decision and an action from the slide without a reload; issues the pack and reads it as HTML
and as a paged PDF; ends the meeting with who attended and sends the follow-up (an email);
marks the old action done; and drafts the agenda of the meeting after, which carries the new
open action and not the done one. Screenshots go to $MEETINGS_BROWSER_SHOTS (default: the
test's temporary folder).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from civicloop.tests.browser import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEAM = "team-clean"
GRACE = "grace.lin@alderport.example"
CARRIED = "Ask the hauler for missed collections by route"
COMMENTED = "Missed collections per 10,000 carts"  # the demo has Grace write on the weekly count
ADDED = "Illegal dumping requests per week"
DECISION = "Re-walk the east-side route with the new crew before the next meeting."
NEW_ACTION = "Walk the east-side route with the hauler's new crew"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def demo(data_dir: Path) -> dict[str, Any]:
    """The demo city as of today (the live server's today), at a small scale."""
    from civicloop.demo.services import load_demo
    from civicloop.warehouse import Warehouse

    today = timezone.localdate()
    result = load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=today)
    return {"password": result.password, "today": today}


def sign_in(page: Any, email: str, password: str) -> None:
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def pdf_streams(pdf: bytes) -> list[bytes]:
    """Every FlateDecode stream of the PDF, inflated (object streams, content, outlines)."""
    out = [pdf]
    for match in re.finditer(rb"<<((?:(?!>>\s*stream).)*?)>>\s*stream\r?\n", pdf, re.S):
        header = match.group(1)
        length = re.search(rb"/Length\s+(\d+)\b(?!\s+\d+\s+R)", header)
        if b"/FlateDecode" in header and length:
            try:
                out.append(zlib.decompress(pdf[match.end() : match.end() + int(length.group(1))]))
            except zlib.error:
                continue
    return out


def pdf_bookmarks(pdf: bytes) -> list[str]:
    """The titles of the PDF's outline (its bookmarks), which WeasyPrint makes from headings."""
    titles = []
    for part in pdf_streams(pdf):
        for raw in re.findall(rb"/Title\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)", part):
            if raw.startswith(b"<"):
                data = bytes.fromhex(raw[1:-1].decode("ascii"))
            else:
                data = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
            if data.startswith(b"\xfe\xff"):
                titles.append(data[2:].decode("utf-16-be"))
            else:
                titles.append(data.decode("latin-1"))
    return titles


def pdf_page_count(pdf: bytes) -> int:
    counts = re.findall(rb"/Type\s*/Pages\b.*?/Count\s+(\d+)", b"\n".join(pdf_streams(pdf)), re.S)
    assert len(counts) == 1, counts
    return int(counts[0])


def pdf_text(pdf: bytes, folder: Path) -> list[str] | None:
    """Each page's text, with pypdf or poppler's pdftotext, whichever is here (None: neither)."""
    try:
        import pypdf  # type: ignore[import-not-found]
    except ImportError:
        pypdf = None
    if pypdf is not None:
        import io

        return [p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    path = folder / "pack.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [tool, "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return out.split("\f")[: pdf_page_count(pdf)]


def test_team_clean_holds_a_meeting_end_to_end(
    live_server: Any, page: Any, demo: dict[str, Any], axe: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from civicloop.meetings.models import Action, Meeting, MeetingState, Note, Pack

    base = live_server.url
    main = page.locator("main")
    today: date = demo["today"]
    shots = Path(os.environ.get("MEETINGS_BROWSER_SHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name: str) -> None:
        page.screenshot(path=shots / f"meeting-{name}.png", full_page=True)

    def status() -> Any:
        return page.locator("div.messages[role=status]")

    def at_phone_width(name: str) -> None:
        page.set_viewport_size(PHONE)
        page.reload()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{page.url} scrolls sideways at 390 px ({width} px)"
        assert_accessible(page, axe)
        shot(f"{name}-phone")
        page.set_viewport_size(DESKTOP)
        page.reload()

    mail.outbox.clear()
    held = Meeting.objects.get(team__slug=TEAM, state=MeetingState.HELD)
    meeting = Meeting.objects.filter(team__slug=TEAM, state=MeetingState.SCHEDULED).order_by("on")[
        0
    ]
    after = Meeting.objects.get(team__slug=TEAM, on=meeting.on + timedelta(weeks=2))
    assert meeting.on == held.on + timedelta(weeks=2) and meeting.on.weekday() == 1  # Tuesdays
    assert meeting.on > today

    # --- The dashboard: what needs attention first; then one district. ----------------------
    page.goto(f"{base}/teams/{TEAM}/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    sign_in(page, GRACE, demo["password"])
    expect(page).to_have_url(f"{base}/teams/{TEAM}/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team Clean: what needs attention")
    lede = main.locator("p.lede")
    expect(lede).to_contain_text("1 open action, 1 overdue")
    # How many fail their target moves with the day the demo is made for: read the counts.
    said = re.search(
        r"(\d+) metrics; (\d+) need attention: (\d+) with a special cause of concern, (\d+) "
        r"failing the target, 0 with stale data, 0 with commentary overdue\.",
        lede.inner_text(),
    )
    assert said, lede.inner_text()
    total_cards, attention, concern, failing = (int(n) for n in said.groups())
    assert concern >= 2 and failing >= 1 and attention == concern + failing, said.groups()
    cards = main.locator("ol.dash-grid > li.dash-card")
    expect(cards).to_have_count(total_cards)
    for index in range(attention):  # concern first, then failing the target
        card = cards.nth(index)
        expect(card).to_have_class(re.compile(r"\bneeds-attention\b"))
        expect(card.locator("ul.reasons li").first).to_have_text(
            "Special cause of concern" if index < concern else "Consistently failing its target"
        )
    expect(cards.nth(attention)).not_to_have_class(re.compile(r"\bneeds-attention\b"))
    expect(cards.nth(attention).locator("ul.reasons")).to_have_count(0)
    names = [cards.nth(i).locator("h3 a").inner_text() for i in range(attention)]
    assert COMMENTED in names[:concern] and ADDED not in names, names
    expect(cards.nth(0).locator("svg.sparkline")).to_be_visible()
    actions_box = main.get_by_role("region", name="Open actions")
    expect(actions_box).to_contain_text(CARRIED)
    expect(actions_box).to_contain_text("Overdue")
    expect(main.locator(".dash-bar")).to_contain_text("Next meeting:")
    expect(main.locator(".dash-bar")).to_contain_text("Fortnightly")
    assert_accessible(page, axe)
    shot("1-dashboard")
    at_phone_width("1-dashboard")

    page.get_by_role("combobox", name="Show").select_option(label="district: District 3")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page).to_have_url(re.compile(r"/dashboard/\?series=district%3DDistrict\+3$"))
    expect(lede).to_contain_text("for district District 3")
    expect(page.get_by_role("combobox", name="Show")).to_have_value("district=District 3")
    expect(cards.first.locator("h3 .meta")).to_have_text("(District 3)")
    expect(cards.first.locator("h3 a")).to_have_attribute(
        "href", re.compile(r"\?breakdown=district&value=District%203$")
    )
    assert_accessible(page, axe)
    shot("2-dashboard-district-3")

    # --- The meetings list, then the next meeting; its agenda drafted again from the data. ---
    page.get_by_role("navigation", name="Team Clean").get_by_role("link", name="Meetings").click()
    expect(page).to_have_url(f"{base}/teams/{TEAM}/meetings/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team Clean: performance meetings")
    expect(main.locator("p.lede")).to_contain_text("Fortnightly")
    coming = main.locator("ul.meeting-lines").first.locator("li")
    expect(coming.first).to_contain_text(f"{meeting.on:%a %d %b %Y}")
    past = main.locator("ul.meeting-lines").nth(1)
    expect(past).to_contain_text(f"{held.on:%a %d %b %Y}")
    assert_accessible(page, axe)
    coming.first.get_by_role("link").click()
    meeting_url = f"{base}/meetings/{meeting.pk}/"
    expect(page).to_have_url(meeting_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Team Clean performance meeting")
    expect(main.locator("p.lede")).to_contain_text("Public Works depot, meeting room 2")
    expect(main.locator("p.lede .badge")).to_have_text("Scheduled")
    assert_accessible(page, axe)

    main.get_by_role("button", name="Draft the agenda again").click()
    expect(status()).to_contain_text(re.compile(r"Agenda drafted from the data: \d+ items? added"))
    agenda = main.locator("ol.agenda > li")
    metrics = main.locator("ol.agenda > li.agenda-metric")
    expect(metrics).to_have_count(attention)
    for index in range(attention):  # each with the sentence of its real signal
        expect(metrics.nth(index).locator("h3 .meta")).to_have_text("Drafted from the data")
        expect(metrics.nth(index).locator("> p").first).to_have_text(
            re.compile(
                r"^(Special cause of concern: the latest week \(.+\) is above the upper process "
                r"limit \(.+\)\.|Consistently fails the target: the target \(.+\) lies above the "
                r"upper process limit \(.+\), so it will not be met without a change to the "
                r"process\.)$"
            )
        )
    assert set(metrics.locator("h3 a").all_inner_texts()) == set(names)
    carried = main.locator("ol.agenda > li.agenda-action")
    expect(carried).to_have_count(1)
    expect(carried.locator("h3")).to_contain_text(CARRIED)
    expect(carried.locator("h3 .meta")).to_have_text("Carried from an earlier meeting")
    expect(carried.locator("> p").first).to_have_text(
        f"Open action for Marcus Bell, overdue since {held.on + timedelta(days=5):%d %b %Y}."
    )
    expect(main.locator(f"#item-{_item_id(meeting, COMMENTED)}")).to_contain_text(
        "Commentary: asked of Grace Lin, not written yet"
    )
    expect(agenda.filter(has_text="written by Grace Lin")).to_have_count(1)  # the demo's one
    assert_accessible(page, axe)
    shot("3-meeting-drafted")

    # An item people add, about a metric with no signal (the dumping pilot), and commentary.
    main.get_by_role("link", name="Add an item").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an agenda item")
    page.get_by_label("About a metric (optional)").select_option(label=ADDED)
    page.get_by_label("Why").fill("How the District 3 pilot crew is doing before we widen it.")
    assert_accessible(page, axe)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page).to_have_url(meeting_url)
    expect(status()).to_contain_text("Item added to the agenda.")
    added = main.locator("ol.agenda > li").last
    expect(added.locator("h3 a")).to_have_text(ADDED)
    expect(added.locator("h3 .meta")).to_contain_text("Added by someone (Grace Lin)")

    main.get_by_role("button", name="Ask owners for commentary").click()
    expect(status()).to_contain_text("Commentary asked for 1 metric, by email to 1 person.")
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    asked = mail.outbox[0]
    assert asked.to == [GRACE]
    assert asked.subject == f"Commentary for Team Clean performance meeting, {meeting.on:%d %b}"
    assert ADDED in asked.body and f"/meetings/{meeting.pk}/commentary/" in asked.body
    expect(added).to_contain_text("Commentary: asked of Grace Lin, not written yet")

    main.get_by_role("link", name="Commentary", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Commentary for {meeting.on:%-d %B %Y}"
    )
    assert_accessible(page, axe)
    page.get_by_role("link", name=f"Write the commentary on {COMMENTED}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Commentary on {COMMENTED}")
    chart = main.locator("figure img")
    expect(chart).to_have_attribute("alt", re.compile(rf"^{COMMENTED}"))
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0"), "chart not drawn"
    page.get_by_label("Commentary", exact=True).fill(
        "The rate jumped with the count: **one route**, the east-side round, changed crews."
    )
    assert_accessible(page, axe)
    shot("4-commentary-form")
    page.get_by_role("button", name="Save the commentary").click()
    expect(status()).to_contain_text(f"Commentary on {COMMENTED} saved.")
    written = main.locator("ul.commentary-list > li").filter(
        has=page.get_by_role("heading", name=COMMENTED)
    )
    expect(written).to_contain_text("Written by Grace Lin.")
    expect(written.locator(".commentary strong")).to_have_text("one route")
    page.get_by_role("link", name=re.compile(r"^Team Clean performance meeting")).click()
    expect(page).to_have_url(meeting_url)

    # --- Present mode: one item per screen, arrow keys, capture without a reload. -------------
    main.get_by_role("link", name="Present", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/meetings/{meeting.pk}/present/"))
    slides = page.locator(".slide")
    total = slides.count()
    assert total == attention + 2, total  # the metrics, the carried action, the added item
    visible = page.locator(".slide:visible")
    count = page.locator("#present-count")
    expect(visible).to_have_count(1)
    expect(count).to_have_text(f"Item 1 of {total}")
    first = visible.locator("h1").inner_text()
    assert first == names[0], (first, names)
    expect(visible.locator("figure.slide-chart img")).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(visible).to_have_count(1)
    expect(count).to_have_text(f"Item 2 of {total}")
    second = visible.locator("h1").inner_text()
    assert second != first
    expect(page.locator(":focus")).to_have_text(second)  # the heading, for screen readers
    page.keyboard.press("ArrowLeft")
    expect(count).to_have_text(f"Item 1 of {total}")
    expect(visible.locator("h1")).to_have_text(first)
    page.keyboard.press("End")
    expect(count).to_have_text(f"Item {total} of {total}")
    expect(visible.locator("h1")).to_have_text(ADDED)
    page.keyboard.press("ArrowRight")  # stays on the last
    expect(count).to_have_text(f"Item {total} of {total}")
    page.keyboard.press("Home")
    expect(count).to_have_text(f"Item 1 of {total}")
    assert_accessible(page, axe)
    shot("5-present")

    while visible.locator("h1").inner_text() != COMMENTED:
        before = count.inner_text()
        page.keyboard.press("ArrowRight")
        expect(count).not_to_have_text(before)
    slide = visible
    expect(slide.locator(".slide-commentary")).to_contain_text("Commentary from Grace Lin")
    expect(slide.locator(".slide-commentary strong")).to_have_text("one route")
    page.evaluate("() => { window.__stillThisPage = true; }")
    captured = slide.locator("ul[data-captured]")
    expect(captured.locator("li")).to_have_count(0)
    note_form = slide.locator("form.capture-form").first
    note_form.get_by_label("Kind").select_option(label="Decision")
    note_form.get_by_label("Text").fill(DECISION)
    note_form.get_by_role("button", name="Save", exact=True).click()
    expect(note_form.locator(".form-status")).to_have_text("Saved.")
    expect(captured.locator("li")).to_have_count(1)
    expect(captured.locator("li").first).to_have_text(f"Decision: {DECISION}")
    action_form = slide.locator("form.capture-form").nth(1)
    due = meeting.on + timedelta(days=7)
    action_form.get_by_label("What").fill(NEW_ACTION)
    action_form.get_by_label("Owner").select_option(label="Marcus Bell")
    action_form.get_by_label("Due").fill(due.isoformat())
    action_form.get_by_role("button", name="Save the action").click()
    expect(action_form.locator(".form-status")).to_have_text("Saved.")
    expect(captured.locator("li")).to_have_count(2)
    expect(captured.locator("li").nth(1)).to_have_text(
        f"Action: {NEW_ACTION} — Marcus Bell, due {due:%d %b %Y}"
    )
    expect(action_form.get_by_label("What")).to_have_value("")  # ready for the next one
    assert page.evaluate("() => window.__stillThisPage === true"), "the page reloaded"
    expect(count).to_contain_text(f"of {total}")
    expect(visible.locator("h1")).to_have_text(COMMENTED)  # still on the same item
    decision = Note.objects.get(meeting=meeting, text=DECISION)
    assert decision.kind == "decision" and decision.item is not None
    assert decision.item.metric is not None and decision.item.metric.name == COMMENTED
    new_action = Action.objects.get(text=NEW_ACTION)
    assert new_action.meeting_id == meeting.pk and new_action.due_on == due
    assert new_action.metric is not None and new_action.metric.name == COMMENTED
    assert_accessible(page, axe)
    shot("6-present-captured")
    at_phone_width("6-present")
    expect(visible).to_have_count(1)
    expect(visible.locator("h1")).to_have_text(COMMENTED)  # the address keeps the item

    page.get_by_role("link", name="Leave present mode").click()
    expect(page).to_have_url(meeting_url)
    item = main.locator(f"#item-{_item_id(meeting, COMMENTED)}")
    expect(item).to_contain_text(f"Decision: {DECISION}")
    expect(item).to_contain_text(f"Action: {NEW_ACTION}")
    assert_accessible(page, axe)

    # --- The pack: issued, frozen, as HTML and as a paged PDF. ------------------------------
    main.get_by_role("button", name="Issue the pack").click()
    issued = Pack.objects.get(meeting=meeting)
    expect(page).to_have_url(f"{base}/packs/{issued.pk}/")
    expect(page).to_have_title(f"Team Clean: pack for {meeting.on:%A %d %B %Y}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team Clean performance meeting")
    doc = page.locator("main")
    expect(doc).to_contain_text("Pack 1, issued")
    expect(doc).to_contain_text("Frozen as of")
    expect(doc.locator(".draft-banner")).to_have_count(0)
    toc = page.get_by_role("navigation", name="Contents")
    for name in [*names, ADDED]:
        expect(toc.get_by_role("link", name=name, exact=True)).to_be_visible()
        expect(doc.get_by_role("heading", level=2, name=name, exact=True)).to_have_count(1)
    expect(doc.locator("#attention")).to_contain_text(f"Commentary: 2 of {attention + 1} written.")
    expect(doc.locator("#attention")).to_contain_text(f"Not written: {ADDED} (Grace Lin).")
    expect(doc.locator("#actions")).to_contain_text(CARRIED)
    expect(doc.locator("#actions")).to_contain_text(NEW_ACTION)
    images = doc.locator("section.metric figure img")
    expect(images).to_have_count(attention + 1)
    for index in range(attention + 1):
        assert images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
    assert_accessible(page, axe)
    shot("7-pack")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Pack")).to_be_hidden()
    shot("7-pack-print")
    page.emulate_media(media="screen")

    pdf_link = page.get_by_role("navigation", name="Pack").get_by_role("link", name="PDF")
    expect(pdf_link).to_have_attribute("href", f"/packs/{issued.pk}.pdf")
    response = page.request.get(f"{base}/packs/{issued.pk}.pdf")
    assert response.status == 200, response.text()[:500]
    assert response.headers["content-type"] == "application/pdf"
    assert f"pack-{TEAM}-{meeting.on.isoformat()}-1.pdf" in response.headers["content-disposition"]
    pdf = response.body()
    assert pdf.startswith(b"%PDF-")
    (shots / "meeting-pack.pdf").write_bytes(pdf)
    pages = pdf_page_count(pdf)
    assert pages >= 2 + attention + 1 + 1, pages  # cover, summary, a page a metric, the rest
    bookmarks = pdf_bookmarks(pdf)
    for name in [*names, ADDED, "What needs attention", "Actions log"]:
        assert name in bookmarks, (name, bookmarks)
    text = pdf_text(pdf, tmp_path)
    if text is None:
        assert not os.environ.get("CI"), (
            "CI reads the pack's text with pypdf or poppler's pdftotext: install one "
            "(pip install pypdf, or apt-get install poppler-utils)"
        )
        print("Neither pypdf nor pdftotext is here: the PDF's text was not read.")
    else:
        assert len(text) == pages
        for number, words in enumerate(text, 1):  # the footer of every page, the cover's too
            assert f"Page {number} of {pages}" in words, (number, words[-300:])
        flat = [" ".join(t.split()) for t in text]
        assert "Frozen as of" in flat[0] and "Contents" in flat[0]
        at_page = {}
        for name in [*names, ADDED, "Actions log"]:  # the contents give each its page number
            found = re.search(rf"{re.escape(name)} ?\.{{3,}} ?(\d+)\b", flat[0])
            assert found, (name, flat[0])
            at_page[name] = int(found.group(1))
            assert flat[at_page[name] - 1].startswith(name), (name, at_page[name])
        log = flat[at_page["Actions log"] - 1]
        for words in (CARRIED, NEW_ACTION):  # table cells wrap: their first words
            assert " ".join(words.split()[:3]) in log, (words, log)

    # --- End the meeting with who attended; the follow-up, sent. -----------------------------
    page.get_by_role("link", name="Back to the meeting").click()
    expect(page).to_have_url(meeting_url)
    expect(main.get_by_role("region", name="The pack")).to_contain_text("Pack 1")
    main.get_by_role("link", name="End the meeting").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("End the meeting: who attended")
    attended = ("Grace Lin", "Marcus Bell", "Amara Okafor")
    for person in attended:
        page.get_by_label(person, exact=True).check()
    expect(page.get_by_label("Victor Chen", exact=True)).not_to_be_checked()
    assert_accessible(page, axe)
    page.get_by_role("button", name="Mark as held").click()
    expect(page).to_have_url(f"{base}/meetings/{meeting.pk}/follow-up/")
    expect(status()).to_contain_text("Meeting marked as held. Send the follow-up next.")
    follow = main.locator("article.follow-up")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Follow-up: Team Clean performance meeting, {meeting.on:%-d %B %Y}"
    )
    expect(follow.locator("p.lede")).to_have_text("Attended: Amara Okafor, Grace Lin, Marcus Bell.")
    expect(follow).to_contain_text(DECISION)
    new_row = follow.get_by_role("row", name=re.compile(NEW_ACTION))
    expect(new_row).to_contain_text("Marcus Bell")
    expect(new_row).to_contain_text(COMMENTED)
    expect(follow).to_contain_text(f"{CARRIED} — Marcus Bell")
    expect(follow).to_contain_text("still open")
    expect(follow).to_contain_text(f"Next meeting: {after.on:%A %-d %B %Y} at 10:00.")
    assert_accessible(page, axe)
    page.get_by_role("button", name="Send to everyone who attended").click()
    expect(status()).to_contain_text("Follow-up sent to 3 people.")
    expect(main.get_by_role("button", name="Send it again")).to_be_visible()
    assert len(mail.outbox) == 2, [m.subject for m in mail.outbox]
    sent = mail.outbox[1]
    assert sent.subject == f"Follow-up: Team Clean performance meeting, {meeting.on:%d %b %Y}"
    assert sorted(sent.to) == sorted(
        [GRACE, "marcus.bell@alderport.example", "amara.okafor@alderport.example"]
    )
    assert DECISION in sent.body and NEW_ACTION in sent.body
    assert_accessible(page, axe)
    shot("8-follow-up")
    meeting.refresh_from_db()
    assert meeting.state == MeetingState.HELD and meeting.follow_up_sent_at is not None

    # --- The actions: the old one is done now. ------------------------------------------------
    page.goto(f"{base}/teams/{TEAM}/actions/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team Clean: actions")
    open_table = main.get_by_role("table", name="2 open actions")
    old = open_table.get_by_role("row", name=re.compile(CARRIED))
    expect(old).to_contain_text("Overdue")
    expect(open_table.get_by_role("row", name=re.compile(NEW_ACTION))).to_contain_text(
        "Marcus Bell"
    )
    assert_accessible(page, axe)
    shot("9-actions")
    old.get_by_label(f"Outcome of “{CARRIED}”").select_option(label="Done")
    old.get_by_label("Note (needed when dropping)").fill("The hauler sent the route figures.")
    old.get_by_role("button", name=f"Close “{CARRIED}”").click()
    expect(status()).to_contain_text(f"“{CARRIED}” is done.")
    expect(main.get_by_role("table", name="1 open action")).not_to_contain_text(CARRIED)
    closed = main.locator("ul.plain").filter(has_text=CARRIED)
    expect(closed).to_contain_text("The hauler sent the route figures.")
    assert_accessible(page, axe)

    # --- The meeting after: its agenda carries the open action, not the done one. -------------
    page.get_by_role("navigation", name="Team Clean").get_by_role("link", name="Meetings").click()
    coming = main.locator("ul.meeting-lines").first.locator("li")
    expect(coming.first).to_contain_text(f"{after.on:%a %d %b %Y}")
    expect(main.locator("ul.meeting-lines").nth(1).locator("li").first).to_contain_text(
        f"{meeting.on:%a %d %b %Y}: Held"
    )
    assert_accessible(page, axe)
    shot("10-meetings")
    coming.first.get_by_role("link").click()
    expect(page).to_have_url(f"{base}/meetings/{after.pk}/")
    expect(main).to_contain_text("The agenda is empty.")
    previous = main.locator("p.meta", has_text="Previous meeting:").get_by_role("link")
    expect(previous).to_have_attribute("href", f"/meetings/{meeting.pk}/")
    main.get_by_role("button", name="Draft the agenda from the data").click()
    expect(status()).to_contain_text("Agenda drafted from the data:")
    carried = main.locator("ol.agenda > li.agenda-action")
    expect(carried).to_have_count(1)
    expect(carried.locator("h3")).to_contain_text(NEW_ACTION)
    expect(carried.locator("h3 .meta")).to_have_text("Carried from an earlier meeting")
    expect(carried.locator("> p").first).to_have_text(
        f"Open action for Marcus Bell, due {due:%d %b %Y}, before this meeting."
    )
    expect(main.locator("ol.agenda")).not_to_contain_text(CARRIED)
    expect(main.locator("ol.agenda > li.agenda-metric")).to_have_count(attention)
    assert_accessible(page, axe)
    shot("11-next-meeting")

    # The weeknotes (another part of this work): the team's list, when it is there.
    weeknotes = page.request.get(f"{base}/teams/{TEAM}/weeknotes/")
    if weeknotes.status != 404:
        assert weeknotes.ok, weeknotes.status
        page.goto(f"{base}/teams/{TEAM}/weeknotes/")
        assert_accessible(page, axe)
        shot("12-weeknotes")

    print(f"Meeting browser screenshots: {shots}")


def _item_id(meeting: Any, title: str) -> int:
    return meeting.items.get(title=title).pk
