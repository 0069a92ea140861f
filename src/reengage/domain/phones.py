"""Phone numbers as a clinic's files write them (``0412 345 678``, ``(02) 9876 5432``,
``+61 412 345 678``) turned into the E.164 form the records keep, for both importers.

A number must be *possible* for its country (the right length, a real country code), not
*valid* in libphonenumber's sense: validity also asks whether the range is allocated, and
the library's tables lag the regulators' (a generated clinic's 0471 and 0495 mobiles, which
Australia has issued, are "invalid" to it). The records API takes any E.164 number, so the
importers refusing a number the API would keep would turn a whole import away for nothing.
"""

from __future__ import annotations

import phonenumbers


def e164(value: str, region: str | None) -> str | None:
    """The number in E.164 form, or None when it cannot be read as a phone number (national
    numbers need ``region``)."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
