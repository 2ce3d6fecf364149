"""Variation and assurance icons: labels, colours, letters and their contrast."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from civicloop.spc import icons
from civicloop.spc.icons import (
    ASSURANCE_LABELS,
    VARIATION_LABELS,
    assurance_icon,
    variation_icon,
)

SVG = "{http://www.w3.org/2000/svg}"
DIRECTIONAL = ("special_cause_improvement", "special_cause_concern")


def contrast(colour: str, background: str = "#ffffff") -> float:
    """WCAG 2.x contrast ratio."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(colour), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own markup, parsed to check it is well formed


def title(svg: str) -> str:
    node = parse(svg).find(f"{SVG}title")
    assert node is not None and node.text
    return node.text


def letters(svg: str) -> list[str]:
    return [t.text or "" for t in parse(svg).iter(f"{SVG}text")]


def fills(svg: str) -> set[str]:
    return set(re.findall(r'(?:fill|stroke)="(#[0-9a-f]{6})"', svg))


COMBINATIONS = [
    (variation, direction)
    for variation in VARIATION_LABELS
    for direction in ("increase", "decrease", "neutral")
    if not (variation in DIRECTIONAL and direction == "neutral")
]


@pytest.mark.parametrize(("variation", "direction"), COMBINATIONS)
def test_every_variation_icon_is_an_image_with_its_label(
    variation: str | None, direction: str
) -> None:
    svg = variation_icon(variation, direction, size=32)
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("width") == root.get("height") == "32"
    assert "spc-icon" in (root.get("class") or "")
    assert title(svg).startswith(VARIATION_LABELS[variation])


@pytest.mark.parametrize(
    ("variation", "direction", "letter"),
    [
        ("special_cause_concern", "increase", "L"),
        ("special_cause_concern", "decrease", "H"),
        ("special_cause_improvement", "increase", "H"),
        ("special_cause_improvement", "decrease", "L"),
        ("special_cause_neutral_high", "neutral", "H"),
        ("special_cause_neutral_low", "neutral", "L"),
        ("special_cause_neutral_high", "increase", "H"),
    ],
)
def test_special_cause_says_high_or_low(variation: str, direction: str, letter: str) -> None:
    svg = variation_icon(variation, direction)
    assert letters(svg) == [letter]
    assert f"spc-icon-{'high' if letter == 'H' else 'low'}" in svg


def test_common_cause_and_no_data_have_no_letter() -> None:
    assert letters(variation_icon("common_cause", "increase")) == []
    assert letters(variation_icon(None, "neutral")) == []


def test_improvement_is_blue_and_concern_orange() -> None:
    improvement = fills(variation_icon("special_cause_improvement", "increase"))
    concern = fills(variation_icon("special_cause_concern", "increase"))
    assert icons.BLUE in improvement and icons.ORANGE not in improvement
    assert icons.ORANGE in concern and icons.BLUE not in concern
    assert icons.PURPLE in fills(variation_icon("special_cause_neutral_low", "neutral"))


def test_no_data_is_a_dashed_grey_circle() -> None:
    svg = variation_icon(None, "increase")
    assert "stroke-dasharray" in svg
    assert icons.NO_DATA_GREY in svg
    assert title(svg) == VARIATION_LABELS[None]


@pytest.mark.parametrize(
    ("assurance", "letter", "colour"),
    [
        ("consistent_pass", "P", icons.BLUE),
        ("consistent_fail", "F", icons.ORANGE),
        ("inconsistent", "?", icons.GREY),
    ],
)
def test_assurance_icon_letter_colour_and_target_line(
    assurance: str, letter: str, colour: str
) -> None:
    svg = assurance_icon(assurance, size=24)
    assert title(svg) == ASSURANCE_LABELS[assurance]
    assert letters(svg) == [letter]
    assert colour in fills(svg)
    assert parse(svg).get("width") == "24"
    dashed = [n for n in parse(svg).iter(f"{SVG}line") if n.get("stroke-dasharray")]
    assert len(dashed) == 1


def test_no_target_means_no_assurance_icon() -> None:
    assert assurance_icon(None) == ""
    assert ASSURANCE_LABELS[None] == "No target"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: variation_icon("special_cause_maybe", "increase"), "variation"),
        (lambda: variation_icon("common_cause", "sideways"), "direction"),
        (lambda: variation_icon(None, "sideways"), "direction"),
        (lambda: variation_icon("special_cause_concern", "neutral"), "increase or decrease"),
        (lambda: assurance_icon("sometimes"), "assurance"),
        (lambda: variation_icon("common_cause", "increase", size=0), "size"),
    ],
)
def test_unknown_values_are_refused(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_shapes_reach_3_to_1_and_letters_4_5_to_1_on_white() -> None:
    shapes = {*icons.TYPE_COLOURS.values(), icons.NO_DATA_GREY, *icons.ASSURANCE_COLOURS.values()}
    assert all(contrast(c) >= 3 for c in shapes)
    for svg in [
        *(assurance_icon(a) for a in icons.ASSURANCE_COLOURS),
        *(variation_icon(v, "increase") for v in DIRECTIONAL),
        variation_icon("special_cause_neutral_high", "neutral"),
    ]:
        for text in parse(svg).iter(f"{SVG}text"):
            assert contrast(text.get("fill") or "") >= 4.5
