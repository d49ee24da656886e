"""The order of day, month and year in a file's dates: the reader kit's date-order inference.

One date cannot say whether `01/02/2024` is in January or February: readers of formats that
write dates the phone's way (WhatsApp, LINE, tables) count what all the file's dates show
(`DateFields`) and `infer_order` decides, as ../shared/reference/formats.md §2.3 says: mostly
year first is "ymd"; a number above 12 first means day first, second means month first (both:
the majority, counted as "date order inconsistent"). When nothing decides, the format's own
habit, if it has one; else the locale's habit is guessed, counted as "date order guessed":
month first for M/D/YY (en-US), else day first ("/" with a 4-digit year is en-GB, es, fr...;
dots and dashes are day first everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from twinchat.errors import TwinchatError

DATE_ORDERS = ("dmy", "mdy", "ymd")
INCONSISTENT = "date order inconsistent"
GUESSED = "date order guessed"


@dataclass
class DateFields:
    """What a file's dates say about the order of their three numbers."""

    dates: int = 0
    year_first: int = 0
    first_over_12: int = 0
    second_over_12: int = 0
    us_style: int = 0  # "/" and a 2-digit year last: M/D/YY, en-US's habit

    def add(self, first: str, second: str, third: str, separator: str) -> None:
        """One date's numbers as written (any digits `int` reads), and what separates them."""
        self.dates += 1
        if len(first) > 2:
            self.year_first += 1
            return
        self.us_style += separator == "/" and len(third) == 2
        self.first_over_12 += int(first) > 12
        self.second_over_12 += int(second) > 12

    def merge(self, other: DateFields) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def infer_order(dates: DateFields, habit: str | None = None) -> tuple[str, str | None]:
    """(date order, the problem to count once per date, or None).

    Args:
        habit: the order the format writes when its dates do not say, None when only the
            phone's locale could say (then it is guessed).
    """
    if dates.year_first * 2 > dates.dates:
        return "ymd", None
    if dates.first_over_12 and dates.second_over_12:
        return ("dmy" if dates.first_over_12 >= dates.second_over_12 else "mdy"), INCONSISTENT
    if dates.first_over_12:
        return "dmy", None
    if dates.second_over_12:
        return "mdy", None
    if habit is not None:
        return habit, None
    return ("mdy" if dates.us_style * 2 > dates.dates else "dmy"), GUESSED


def in_order(first: str, second: str, third: str, order: str) -> tuple[str, str, str]:
    """(year, month, day) of a date's numbers written in `order`."""
    if order == "dmy":
        return third, second, first
    if order == "mdy":
        return third, first, second
    return first, second, third


def check_order(order: str | None) -> None:
    """Refuse a date order that is neither None (infer it) nor one of `DATE_ORDERS`.

    Raises:
        TwinchatError: naming the orders there are.
    """
    if order not in (None, *DATE_ORDERS):
        raise TwinchatError(
            f"unknown date order '{order}': the date order must be one of {', '.join(DATE_ORDERS)}"
        )


BUDDHIST_OFFSET = 543
"""The Thai solar calendar's year is the Gregorian one plus 543."""


def gregorian(year: int) -> int:
    """A four-digit year as Gregorian: one past 2400 is Buddhist (a phone set to the Thai
    calendar writes it in any UI language, with "BE" after it or not); no chat app's Gregorian
    year is that far ahead."""
    return year - BUDDHIST_OFFSET if year > 2400 else year
