"""Reasoning audit: extraction, the rule-based checks, verdicts and the per-model summary."""

from __future__ import annotations

import pytest

from mixstack.audit import audit_trace, extract_reasoning, summarize
from mixstack.audit._arith import equations


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("3 + 5 = 8", True),
        ("12 × 4 is 48", True),
        ("12 * 4 = 49", False),
        ("48 ÷ 6 = 9", False),
        ("$1,200 + $300 = $1,500", True),
        ("20% of 50 is 10", True),
        ("15% of $80 = $13", False),
        ("5 apples + 3 apples = 8 apples", True),
        ("(3 + 5) × 2 = 18", False),
        ("10 divided by 2 equals 5", True),
        ("5 plus 3 equals 9", False),
        ("10 / 3 = 3.33", True),
        ("10/3 ≈ 3.3", True),
        ("17 / 5 = 4 boxes", True),
        ("20/80 = 25%", True),
        ("$50 + 10% = $55", True),
        ("1.2 million / 4 = 300,000", True),
        ("60 km/h × 2 h = 120 km", True),
        ("2.5 hours = 150 minutes", True),
        ("2 hours is 100 minutes", False),
        ("2 kg 300 g = 2300 g", True),
        ("3 km = 300 m", False),
        ("24 \\times 3 = 72", True),
        ("\\frac{12}{4} = 4", False),
        ("5 - 8 = -3", True),
        ("2^10 = 1048", False),
        ("3 × 4 = 12 + 2 = 14", True),
        ("Multiply 12 by 4 to get 46", False),
        ("The sum of 12 and 15 is 28", False),
        ("the difference between 8 and 20 is 12", True),
        ("Subtract 60 from 1,240, which leaves 1,180", True),
        ("12 × 4, that's 50", False),
        ("five times 3 is 16", False),
        ("12² = 140", False),
        ("100 - 40, leaving 60", True),
    ],
)
def test_arithmetic_is_recomputed(text: str, ok: bool) -> None:
    found = equations(text)
    assert found, text
    assert all(e.ok for e in found) is ok


@pytest.mark.parametrize(
    "text",
    [
        "Children aged 5-10 are 30% of visitors",
        "Day 2 = 20 + 5 pages",
        "In 2023-2024 she earned 5,000",
        "From 8:30 to 10:00 is 1.5 hours",
        "x + 2x = 36, so 3x = 36",
        "Area = side² = 7.5 × 7.5",
        "3 + 4 = 7 boxes, which is 12 items",
    ],
)
def test_non_equations_are_not_checked(text: str) -> None:
    assert all(e.ok for e in equations(text))


def test_extraction_styles() -> None:
    numbered = extract_reasoning("1. 2 + 2 = 4\n2. 4 × 3 = 12\nAnswer: 12")
    assert numbered.steps == ("2 + 2 = 4", "4 × 3 = 12")
    assert numbered.answer == "12"
    assert numbered.style == "numbered"
    bullets = extract_reasoning("- first 2 + 2 = 4\n  and carry on\n- then 4 × 3 = 12\n#### 12")
    assert bullets.steps == ("first 2 + 2 = 4 and carry on", "then 4 × 3 = 12")
    think = extract_reasoning("<think>2 + 2 = 4\n4 × 3 = 12</think>The answer is 12.")
    assert think.source == "think block"
    assert think.steps == ("2 + 2 = 4", "4 × 3 = 12")
    assert think.answer == "12"
    field = extract_reasoning("12", reasoning="Two plus two is 4. Then 4 × 3 = 12.")
    assert field.source == "reasoning field"
    assert field.steps == ("Two plus two is 4.", "Then 4 × 3 = 12.")
    boxed = extract_reasoning("The area is 6 × 4 / 2 = 12.\n\nSo $\\boxed{12}$")
    assert boxed.answer == "12"


def test_verdicts() -> None:
    q = "A tray holds 24 muffins; 7 trays are baked and 150 sold. How many are left?"
    sound = audit_trace(q, "24 × 7 = 168\n168 - 150 = 18\nAnswer: 18", expected="18")
    assert sound.verdict == "sound"
    assert sound.first_error_step is None
    lucky = audit_trace(q, "24 × 7 = 178\n168 - 150 = 18\nAnswer: 18", expected="18")
    assert lucky.verdict == "lucky"
    assert lucky.first_error_step == 1
    assert lucky.first_error_text == "24 × 7 = 178"
    assert lucky.errors[0].kind == "arithmetic"
    wrong = audit_trace(q, "24 × 7 = 168\n168 - 150 = 18\nAnswer: 16", expected="18")
    assert wrong.verdict == "wrong"
    assert [e.kind for e in wrong.errors] == ["inconsistency"]
    assert wrong.first_error_step == 3  # the final answer, after the two steps
    assert audit_trace(q, "18", expected="18").verdict == "unauditable"
    assert audit_trace(q, "", expected="18").verdict == "unauditable"
    # without an expected answer, flagged reasoning cannot be trusted
    assert audit_trace(q, "24 × 7 = 178\nAnswer: 28").verdict == "wrong"


def test_closing_check_is_not_the_conclusion() -> None:
    q = "A farmer has 240 eggs and sells 60. How many are left?"
    out = "240 - 60 = 180 eggs are left.\nCheck: 180 + 60 = 240.\nAnswer: 180"
    assert audit_trace(q, out, expected="180").verdict == "sound"
    wrong = audit_trace(q, out.replace("Answer: 180", "Answer: 240"), expected="180")
    assert [e.kind for e in wrong.errors] == ["inconsistency"]


def test_computed_update_is_not_a_contradiction() -> None:
    q = "Tom has 5 apples and buys 7 more. How many apples does Tom have?"
    out = "Tom has 5 apples.\n5 + 7 = 12\nTom has 12 apples.\nAnswer: 12"
    assert audit_trace(q, out, expected="12").errors == ()


def test_contradiction_and_grounding() -> None:
    q = "Tom has 5 apples and buys 3 more. How many apples does he have?"
    misread = audit_trace(q, "Tom has 7 apples.\n7 + 3 = 10\nAnswer: 10", expected="8")
    assert [e.kind for e in misread.errors] == ["contradiction"]
    update = audit_trace(q, "Tom has 5 apples.\n5 + 3 = 8\nNow Tom has 8 apples.\nAnswer: 8")
    assert update.errors == ()
    invented = audit_trace(q, "Tom also finds 37 apples.\n5 + 3 + 37 = 45\nAnswer: 45")
    assert [e.kind for e in invented.errors] == ["unsupported"]
    context = "The capital of Australia is Canberra."
    fact = audit_trace(
        "What is the capital of Australia?",
        "The capital of Australia is Sydney.\nSo the answer is Sydney.",
        context=context,
        expected="Canberra",
    )
    assert fact.verdict == "wrong"
    assert fact.errors[0].kind == "contradiction"


def test_reference_alignment() -> None:
    q = "Natalia sold clips to 48 friends in April and half as many in May. How many in all?"
    ref = "In May: 48/2 = <<48/2=24>>24 clips.\nIn all: 48+24 = <<48+24=72>>72 clips.\n#### 72"
    good = audit_trace(q, "May: 48 / 2 = 24.\nAll: 48 + 24 = 72.\nAnswer: 72", reference=ref)
    assert good.expected == "72"
    assert good.verdict == "sound"
    assert good.reference is not None
    assert good.reference.missing == ()
    other_route = audit_trace(q, "48 × 1.5 = 72, counting May as half.\nAnswer: 72", reference=ref)
    assert other_route.verdict == "sound"
    assert other_route.reference is not None
    assert other_route.reference.missing == ("48 / 2 = 24",)
    off = audit_trace(q, "May: 48 / 2 = 24.\nAll: 48 + 24 = 74.\nAnswer: 72", reference=ref)
    assert {e.kind for e in off.errors} == {"arithmetic", "reference_mismatch"}


def test_summary() -> None:
    q = "What is 6 × 7 + 2?"
    audits = [
        audit_trace(q, "6 × 7 = 42\n42 + 2 = 44\nAnswer: 44", expected="44"),
        audit_trace(q, "6 × 7 = 40\n42 + 2 = 44\nAnswer: 44", expected="44"),
        audit_trace(q, "6 × 7 = 42\n42 + 2 = 44\nAnswer: 46", expected="44"),
        audit_trace(q, "44", expected="44"),
    ]
    summary = summarize(audits)
    assert summary["verdicts"] == {"sound": 1, "lucky": 1, "wrong": 1, "unauditable": 1}
    assert summary["lucky_rate"] == 0.5
    assert summary["error_taxonomy"]["arithmetic"] == 1
    assert summary["error_taxonomy"]["inconsistency"] == 1
    assert summary["first_error_step"] == {"1": 1, "3": 1}
    json_out = audits[1].to_json()
    assert json_out["first_error_step"] == 1
    assert json_out["errors"][0]["kind"] == "arithmetic"


def test_any_text_is_audited_without_raising() -> None:
    import random
    import string

    rng = random.Random(7)
    alphabet = string.printable + "×÷−≈→²³$€%,."
    for _ in range(300):
        output = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        question = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        audit = audit_trace(question, output, expected=rng.choice([None, "5", "abc"]))
        assert audit.verdict in ("sound", "lucky", "wrong", "unauditable")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("14:20 plus 1 hour is 15:20", True),
        ("15:20 plus 35 minutes is 15:55", True),
        ("15:20 plus 35 minutes is 16:05", False),
        ("11:30 + 1 hour = 12:30", True),  # a 12-hour reading
        ("10:30 pm + 8 hours = 6:30 am", True),  # across midnight
        ("10:30 pm + 8 hours = 7:30 am", False),
        ("From 9:15 to 11:40 is 2 hours 25 minutes", True),
        ("From 9:15 to 11:40 is 2 hours 35 minutes", False),
        ("15:55 - 14:20 = 1 hour 35 minutes", True),
        ("45 minutes before 9:10 is 8:25", True),
        ("March 28 plus 5 days is April 2", True),
        ("March 28 plus 5 days is April 3", False),
        ("3 days after March 30 is April 2", True),
        ("From June 3 to June 24 is 20 days", False),
        ("2024-03-12 plus 30 days is 2024-04-11", True),
        ("Monday plus 3 days is Thursday", True),
        ("Tuesday plus 10 days is Friday", True),
        ("Monday plus 3 days is Friday", False),
        ("90 minutes = 1 hour 30 minutes", True),
        ("1.5 hours = 1 hour 20 minutes", False),
        ("8 hours 30 minutes - 30 minutes = 8 hours", True),
        ("2 hours 30 minutes + 45 minutes = 3 hours 25 minutes", False),
    ],
)
def test_clock_times_durations_and_dates_are_recomputed(text: str, ok: bool) -> None:
    from mixstack.audit._clock import time_relations

    found = time_relations(text)
    assert len(found) == 1, text
    assert found[0].ok is ok, text
    # and never read as plain numbers: "14:20 plus 1 hour" is not 20 + 1
    assert all(eq.ok for eq in equations(text)), text
