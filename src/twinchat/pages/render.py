"""Templates, style sheets and scripts from `templates/`, filled with escaped values.

A template's `$name` placeholders (`string.Template`) take values: a plain value is escaped on
its way in, an `Html` one (markup that was built from escaped parts) goes in as it is. Style
sheets and scripts are inlined, so a page stays one file that loads nothing from anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from functools import cache
from importlib import resources
from string import Template
from typing import Any


class Html(str):
    """Markup whose text parts are escaped already: `escape` and `fill` keep it as it is."""


def escape(value: Any) -> Html:
    """`value` as text in HTML (`&`, `<`, `>` and quotes escaped); `Html` as it is."""
    return value if isinstance(value, Html) else Html(html.escape(str(value)))


def fill(name: str, **values: Any) -> Html:
    """The template `templates/<name>` with each `$key` replaced by its escaped value.

    Raises:
        KeyError: the template names a value that is not given.
    """
    escaped = {key: escape(value) for key, value in values.items()}
    return Html(Template(read(name)).substitute(escaped))


def inline(*names: str) -> Html:
    """Style sheets or scripts from `templates/`, joined, to put inside `<style>` or `<script>`.

    Raises:
        ValueError: a file holds `</`, which would end the element early.
    """
    text = "".join(read(name) for name in names)
    if "</" in text:
        raise ValueError(f"{', '.join(names)}: '</' would close the inline element")
    return Html(text)


@cache
def read(name: str) -> str:
    """The text of `templates/<name>`, shipped as package data."""
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def section(title: str, content: str) -> Html:
    """A `<section>` headed by `title` (text), holding `content` (markup)."""
    return Html(f"<section><h2>{escape(title)}</h2>{content}</section>")


def table(
    head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Collection[int] = ()
) -> Html:
    """A table of markup cells; the columns in `numeric` align right."""
    cells = "".join(f"<th>{h}</th>" for h in head)
    lines = [
        "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>" for i, c in enumerate(row))
        for row in rows
    ]
    return Html(f"<table><tr>{cells}</tr>{''.join(f'<tr>{line}</tr>' for line in lines)}</table>")
