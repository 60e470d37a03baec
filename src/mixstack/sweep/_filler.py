"""Filler text for the haystack: the user's own file, or the shipped `filler.txt`.

The shipped text is generated deterministically by `generate_filler` (a seeded template
grammar: calm descriptions of land, weather and village life, with no digits and no proper
names, so it cannot collide with a needle's facts); a test checks the shipped file is exactly
its output.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from mixstack.errors import InvalidRequestError

__all__ = ["FILLER_SEED", "FILLER_WORDS", "filler_sentences", "generate_filler"]

FILLER_SEED = 20240611
FILLER_WORDS = 24_000

_ADJ = (
    "quiet", "narrow", "old", "grey", "broad", "gentle", "distant", "pale", "low", "shaded",
    "worn", "green", "cold", "still", "long", "soft", "dry", "bright", "hollow", "steep",
    "muddy", "empty", "golden", "heavy", "slow", "crooked", "damp", "wide", "dusty", "silver",
)  # fmt: skip
_NOUN = (
    "path", "river", "hedge", "meadow", "orchard", "bridge", "lane", "field", "barn", "wall",
    "stream", "hill", "garden", "track", "pond", "woodland", "valley", "ridge", "cottage",
    "mill", "gate", "fence", "marsh", "slope", "grove", "chapel", "yard", "well", "shore",
)  # fmt: skip
_PLACE = (
    "edge of the village", "far side of the valley", "bend in the river", "foot of the hill",
    "top of the ridge", "end of the lane", "middle of the common", "corner of the field",
    "mouth of the stream", "shelter of the trees", "line of the old wall", "rim of the marsh",
)  # fmt: skip
_WEATHER = (
    "a thin rain drifted in from the west", "the wind turned and smelled of wet earth",
    "low clouds moved slowly over the fields", "the morning mist lifted from the water",
    "a pale sun came through the haze", "the air grew still and warm",
    "a light frost lay on the grass", "the evening light turned the hills to amber",
    "a cool breeze ran along the hedgerows", "the sky cleared after a long grey spell",
)  # fmt: skip
_PEOPLE = (
    "the shepherd", "the miller", "an old farmer", "the carter", "a young woman",
    "the blacksmith", "a traveller", "the innkeeper", "a boy with a dog", "the gardener",
    "the ferryman", "a weaver", "the schoolteacher", "a pair of walkers",
)  # fmt: skip
_ACTS = (
    "mended a fence", "carried water from the well", "walked the boundary of the field",
    "stacked wood against the wall", "led a horse down to the stream",
    "swept the yard before the rain", "gathered apples in a basket", "repaired a cart wheel",
    "watched the clouds for a change in the weather", "cut back the brambles by the gate",
    "spread straw in the barn", "counted the sheep on the slope", "tied up the loose vines",
)  # fmt: skip
_SENSES = (
    "birds called from somewhere in the hedge", "the water made a low sound over the stones",
    "the smell of smoke came from a chimney", "leaves moved in the wind without a sound",
    "a dog barked once and then was quiet", "bees worked among the clover",
    "the grass was wet and heavy with seed", "a bell rang faintly across the fields",
    "cattle stood still in the shade", "the path was soft underfoot after the rain",
)  # fmt: skip
_THOUGHTS = (
    "Nobody seemed to be in any hurry", "It was the kind of day that passes without notice",
    "Little had changed there for a long time", "The season was turning, slowly but surely",
    "Everything kept to its own pace", "The work would still be there tomorrow",
    "It was easy to lose track of the hour", "Most of the talk was about the weather",
)  # fmt: skip
_TEMPLATES = (
    "The {adj} {noun} ran on towards the {place}.",
    "Beyond the {noun}, {weather}.",
    "Near the {adj} {noun}, {people} {act}.",
    "Along the {noun}, {senses}.",
    "{thought}.",
    "By the {place} there was a {adj} {noun} and a {adj2} {noun2}.",
    "Later in the day {weather}, and {people} {act}.",
    "From the {noun} one could see the {adj} {noun2} and the {place}.",
    "At the {place}, {senses}.",
    "{people_cap} {act} while {weather}.",
    "The {noun} was {adj} and the {noun2} beside it was {adj2}.",
    "{thought}, and {senses}.",
)


def generate_filler(words: int = FILLER_WORDS, seed: int = FILLER_SEED) -> str:
    """Deterministic, fact-free prose in paragraphs of five to nine sentences."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    count = 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(5, 9)):
            people = rng.choice(_PEOPLE)
            sentence = rng.choice(_TEMPLATES).format(
                adj=rng.choice(_ADJ),
                adj2=rng.choice(_ADJ),
                noun=rng.choice(_NOUN),
                noun2=rng.choice(_NOUN),
                place=rng.choice(_PLACE),
                weather=rng.choice(_WEATHER),
                people=people,
                people_cap=people[0].upper() + people[1:],
                act=rng.choice(_ACTS),
                senses=rng.choice(_SENSES),
                thought=rng.choice(_THOUGHTS),
            )
            sentences.append(sentence[0].upper() + sentence[1:])
            count += len(sentence.split())
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs) + "\n"


_SPLIT = re.compile(r"(?<=[.!?])\s+")


@lru_cache(maxsize=4)
def _sentences_of(text: str) -> tuple[str, ...]:
    return tuple(s for s in _SPLIT.split(text.strip()) if s.strip())


def filler_sentences(path: Path | None = None) -> tuple[str, ...]:
    """The filler split into sentences (the units the haystack is padded with)."""
    if path is None:
        text = resources.files("mixstack.sweep").joinpath("filler.txt").read_text("utf-8")
    else:
        if not path.is_file():
            raise InvalidRequestError(f"filler file {str(path)!r} does not exist; check --filler.")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRequestError(
                f"filler file {str(path)!r} is not UTF-8 text; pass a plain text file."
            ) from exc
    sentences = _sentences_of(text)
    if len(sentences) < 10:
        raise InvalidRequestError(
            f"filler {str(path or 'filler.txt')!r} has {len(sentences)} sentences; "
            "give at least 10 sentences of plain prose."
        )
    return sentences
