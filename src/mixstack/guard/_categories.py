"""The categories of personal data a workload can count or leave out, and their entity types.

A workload's `pii.categories` names categories (`name`, `address`, `health`, …); the guard
turns them into the entity types its recognizers report. A type outside every category
(a recognizer added later) always counts, so a new recognizer can never be silently off.
"""

from __future__ import annotations

from collections.abc import Iterable

from mixstack.errors import ConfigError

__all__ = ["CATEGORIES", "category_of", "types_in"]

CATEGORIES: dict[str, frozenset[str]] = {
    "name": frozenset({"PERSON"}),
    "address": frozenset({"STREET_ADDRESS", "LOCATION"}),
    "date_of_birth": frozenset({"DATE_OF_BIRTH"}),
    "email": frozenset({"EMAIL_ADDRESS"}),
    "phone": frozenset({"PHONE_NUMBER"}),
    "national_id": frozenset(
        {
            "US_SSN",
            "US_ITIN",
            "UK_NINO",
            "ES_NIF",
            "ES_NIE",
            "IT_FISCAL_CODE",
            "PL_PESEL",
            "FI_PERSONAL_IDENTITY_CODE",
            "SE_PERSONNUMMER",
            "FR_NIR",
            "NL_BSN",
        }
    ),
    "financial": frozenset({"CREDIT_CARD", "IBAN_CODE", "CRYPTO"}),
    "network": frozenset({"IP_ADDRESS"}),
    "health": frozenset({"HEALTH_CONDITION", "MEDICATION", "PREGNANCY"}),
    "sexual_orientation": frozenset({"SEXUAL_ORIENTATION"}),
    "religion": frozenset({"RELIGION"}),
    "secret": frozenset({"API_KEY", "SECRET", "PRIVATE_KEY"}),
}
_BY_TYPE = {t: name for name, types in CATEGORIES.items() for t in types}


def category_of(entity_type: str) -> str | None:
    return _BY_TYPE.get(entity_type)


def types_in(categories: Iterable[str]) -> frozenset[str]:
    """The entity types of the named categories; an unknown name is a config error."""
    out: set[str] = set()
    for name in categories:
        types = CATEGORIES.get(name)
        if types is None:
            raise ConfigError(
                f"unknown privacy category {name!r}; use one of: {', '.join(sorted(CATEGORIES))}"
            )
        out |= types
    return frozenset(out)
