"""The sections of an A3 and the questions that guide each, as in Shook's "Managing to Learn".

A team may save its own wording of the questions (and its own fishbone categories) as a
template; the sections themselves are the same on every A3, so teams that use different
templates still "speak the same language".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    question: str  # the default guiding question


SECTIONS: tuple[Section, ...] = (
    Section(
        "background",
        "Background",
        "Why does this problem matter, to whom, and why now?",
    ),
    Section(
        "current_condition",
        "Current condition",
        "What is happening now, shown with the data? How big is the gap, and where is it?",
    ),
    Section(
        "goal",
        "Goal / target condition",
        "What condition do we want, by when, and which measure will show we reached it?",
    ),
    Section(
        "root_cause",
        "Root-cause analysis",
        "Why does the problem happen? Keep asking why until you reach a cause you can act on.",
    ),
    Section(
        "countermeasures",
        "Countermeasures",
        "What will we change to address each root cause, and what do we predict will happen?",
    ),
    Section(
        "plan",
        "Implementation plan",
        "Who will do what, by when?",
    ),
    Section(
        "follow_up",
        "Follow-up / effect confirmation",
        "Did the change work, as the data shows? What did we learn, and what happens next?",
    ),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)
BY_KEY = {s.key: s for s in SECTIONS}

# The usual fishbone (Ishikawa) categories; a template may name its own (services often use
# people, policies, procedures, place).
FISHBONE_CATEGORIES: tuple[str, ...] = (
    "People",
    "Methods",
    "Equipment",
    "Materials",
    "Measurement",
    "Environment",
)
MAX_WHYS = 7
MAX_CATEGORIES = 8


def default_questions() -> dict[str, str]:
    return {s.key: s.question for s in SECTIONS}
