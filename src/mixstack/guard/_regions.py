"""Regions whose national phone formats the guard recognizes (international `+` ones always)."""

__all__ = ["PHONE_REGIONS"]

PHONE_REGIONS = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "PL", "SE", "IE", "AT", "CH", "CA")
