"""Synthetic support tickets with a fixed label set, deterministic for a seed.

Each ticket is one or two sentences a customer might write; its label is one of LABELS.
`python tickets.py 320` writes `tickets.jsonl` (cases for an eval suite: id, input, expected).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

LABELS = ("billing", "bug", "account", "shipping")

_PARTS: dict[str, dict[str, list[str]]] = {
    "billing": {
        "what": [
            "I was charged twice for {item}",
            "there is a fee on my statement I don't recognise",
            "my invoice for {month} shows the wrong amount",
            "I still got billed after cancelling {item}",
            "the refund for {item} never reached my card",
            "the discount code was not applied to my payment",
            "you charged me in dollars instead of euros",
            "my card was declined but the money left my account",
        ],
        "ask": ["Please refund it.", "Can you fix the charge?", "I want my money back.", ""],
    },
    "bug": {
        "what": [
            "the app crashes when I open {screen}",
            "{screen} stays blank after the update",
            "I get error 500 every time I save in {screen}",
            "the export button freezes the whole page",
            "search returns nothing since {month}",
            "the buttons in {screen} do nothing on Android",
            "dark mode makes the text in {screen} invisible",
            "uploading a photo spins forever",
        ],
        "ask": ["Please fix it.", "Is this a known issue?", "It worked last week.", ""],
    },
    "account": {
        "what": [
            "I can't change the email address on my profile",
            "the password reset mail never arrives",
            "please delete my account and my data",
            "how do I add a second user to our team",
            "I'm locked out after too many login attempts",
            "my username shows someone else's name",
            "I want to switch the account owner to my colleague",
            "two-factor codes are not accepted when I sign in",
        ],
        "ask": ["How do I do that?", "Please help.", "I need access today.", ""],
    },
    "shipping": {
        "what": [
            "my order of {item} hasn't arrived yet",
            "the tracking number for {item} doesn't work",
            "the parcel was delivered to the wrong address",
            "{item} arrived damaged in the box",
            "can I change the delivery address of my order",
            "the courier left a note but never came back",
            "my package has been stuck in customs since {month}",
            "half of my order of {item} is missing",
        ],
        "ask": ["Where is it?", "When will it come?", "Please send a new one.", ""],
    },
}
_FILL = {
    "item": ["the blue kettle", "my annual plan", "two phone cases", "the desk lamp",
             "order 48213", "the gift card", "a pair of boots", "the premium upgrade"],
    "month": ["March", "last month", "May", "October", "the 12th", "last Friday"],
    "screen": ["the settings page", "the dashboard", "the checkout", "my profile",
               "the invoices tab", "the calendar"],
}  # fmt: skip
_OPEN = ["Hi,", "Hello,", "", "Hey team,", "Good morning,", ""]


def ticket(rng: random.Random, label: str) -> str:
    parts = _PARTS[label]
    what = rng.choice(parts["what"]).format(**{k: rng.choice(v) for k, v in _FILL.items()})
    pieces = (rng.choice(_OPEN), what[0].upper() + what[1:] + ".", rng.choice(parts["ask"]))
    return " ".join(p for p in pieces if p)


def tickets(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        out.append({"id": f"t{i:04d}", "input": ticket(rng, label), "expected": label})
    rng.shuffle(out)
    return out


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 320
    path = Path(__file__).with_name("tickets.jsonl")
    path.write_text("".join(json.dumps(t) + "\n" for t in tickets(count)), encoding="utf-8")
    print(f"wrote {count} tickets to {path}")
