"""Answer letters to the person: Markdown and HTML, in Finnish, Swedish and English, from templates.

The caller builds a `LetterContext`; `render` turns it into text. Templates live in `app/data/letters/`:
one Markdown template per language (`fi.md.j2`, `sv.md.j2`, `en.md.j2`) holds all of that language's wording,
and `page.html.j2` wraps the rendered Markdown into a printable HTML page. This module only supplies what is
the same in every language: escaping, dates, and which letters must tell the person about their remedies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

LetterKind = Literal["completion", "refusal", "extension", "identity"]
Language = Literal["fi", "sv", "en"]
Format = Literal["markdown", "html"]


@dataclass(frozen=True)
class LetterContext:
    """Everything a letter may say.

    kind: completion (the request was carried out), refusal (refused, with reasons and remedies),
      extension (the deadline was extended, with reasons), identity (we need more to confirm who you are).
    controller: as `app.services.controllers.contact` gives it: name, business_id, street_address,
      postal_code, city, country, phone, email, website, register, and contact_person (name, title, phone,
      email); any may be None.
    request: id, type (access|portability|rectification|restriction|objection|erasure|marketing_prohibition),
      received_on (date), due_date (date), original_due_date (date), extension_months (int|None),
      extension_reason (str|None), closed_on (date|None), identity_reason (str|None), params (dict).
    outcome: what completing the request did; see `docs/requests.md` for the shape per type.
    authorities: supervisory authorities the person may complain to (Finland first), each a dict with
      country, name_en, name_native, street_address, postal_address, phone, email, website.
    recipients: names of the recipients told of a rectification, erasure or restriction (Art. 19).
    disclosed: the recipients the person's data went to (the disclosure log), each a dict with recipient (id),
      name, category (in words, or None), first_date and last_date (ISO dates): Art. 15(1)(c), 19, C-154/21.
    named_recipients: the other recipients of the profile's register ("name (category)"), then the recipients
      and categories of recipients the privacy notice names (in the letter's language): the letter never says
      the data went to no one when the profile says otherwise.
    """

    kind: LetterKind
    language: Language
    controller: dict[str, Any]
    request: dict[str, Any]
    today: dt.date
    person_name: str | None = None
    person_address: list[str] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=dict)
    refusal_reasons: str | None = None
    authorities: list[dict[str, Any]] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    disclosed: list[dict[str, Any]] = field(default_factory=list)
    named_recipients: list[str] = field(default_factory=list)


# The names every template may use besides its own `{% set %}`s: the context's fields and `remedies`.
TEMPLATE_VARIABLES = frozenset(f.name for f in dataclasses.fields(LetterContext)) | {"remedies"}

_LOCAL_TIME = zoneinfo.ZoneInfo("Europe/Helsinki")
_ENGLISH_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Characters that start inline formatting, links, raw HTML or entities anywhere in a line (CommonMark, plus
# the GFM strikethrough and table pipes, since the Markdown may be shown by other renderers too).
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>&~|])")
# Characters that start a block (heading, quote, list, setext underline) at the beginning of a line.
_BLOCK_START = re.compile(r"^([#>+=-])")
_ORDERED_LIST_START = re.compile(r"^(\d+)([.)])")
_SAFE_URL = re.compile(r"^https?://[^\s<>\\`]+$")


def render(context: LetterContext, fmt: Format) -> str:
    """Render the letter as Markdown, or as a complete HTML page."""
    if context.kind == "refusal" and not (context.refusal_reasons or "").strip():
        # GDPR Art. 12(4): a refusal always states its reasons.
        raise ValueError("a refusal letter needs refusal_reasons")
    variables = {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}
    variables["remedies"] = _needs_remedies(context)
    text = _environment().get_template(f"{context.language}.md.j2").render(variables)
    markdown = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    if fmt == "markdown":
        return markdown
    return _html_page(markdown, language=context.language)


def _needs_remedies(context: LetterContext) -> bool:
    """Tell whether the letter must name the complaint and court remedies in full.

    GDPR Art. 12(4): whenever the request is not (wholly) acted on, the person is told of the right to lodge a
    complaint (Art. 77) and to seek a judicial remedy (Art. 79).
    """
    if context.kind == "refusal":
        return True
    if context.kind != "completion":
        return False
    kind, outcome = context.request["type"], context.outcome
    if kind == "rectification":
        return bool(outcome.get("refused"))
    if kind == "erasure":
        return bool(outcome.get("kept"))
    if kind == "objection":
        return outcome.get("kind") == "particular_situation" and not outcome.get("upheld")
    return False


def _html_page(markdown: str, *, language: str) -> str:
    """Wrap the letter's Markdown into a printable HTML5 page titled by its subject line."""
    parser = _markdown()
    env: dict[str, Any] = {}
    tokens = parser.parse(markdown, env)
    body = parser.renderer.render(tokens, parser.options, env)
    title = ""
    for index, token in enumerate(tokens[:-1]):
        if token.type == "heading_open":
            inline = tokens[index + 1]
            title = "".join(
                " " if child.type in ("softbreak", "hardbreak") else child.content for child in inline.children or []
            )
            break
    page = _environment().get_template("page.html.j2")
    return page.render(language=language, title=title, body=Markup(body))  # noqa: S704 -- raw HTML is disabled


def environment(
    folder: str, filters: dict[str, Callable[..., Any]], *, escape_all: bool = False, **options: Any
) -> jinja2.Environment:
    """The template environment of app/data/`folder` (letters, the notice, the record, the export page): strict
    about undefined names, HTML-escaping the HTML templates (`.html.j2`), with the Markdown filters that make any
    value show literally, and `filters` of its own; `escape_all` escapes every template (pages only), `options`
    add jinja2 settings."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("app", f"data/{folder}"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=() if escape_all else ("html.j2",), default_for_string=escape_all, default=escape_all
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        **options,
    )
    env.filters |= {"md": md_block, "md_inline": md_inline, "md_lines": md_lines, "md_url": md_url} | filters
    return env


@functools.cache
def _environment() -> jinja2.Environment:
    """Build the letters' template environment once."""
    filters: dict[str, Callable[..., Any]] = {
        "date": _date_filter,
        "authority_name": authority_name,
        "category": category,
    }
    return environment("letters", filters, keep_trailing_newline=True)


@functools.cache
def _markdown() -> MarkdownIt:
    """Build the CommonMark parser once; raw HTML is off, so any HTML in the text comes out escaped."""
    return MarkdownIt("commonmark", {"html": False, "xhtmlOut": False})


def _escape_line(line: str) -> str:
    """Escape one line of user text so that Markdown shows it literally."""
    line = _INLINE_SPECIAL.sub(r"\\\1", line.strip())
    line = _BLOCK_START.sub(r"\\\1", line)
    return _ORDERED_LIST_START.sub(r"\1\\\2", line)


def md_inline(value: object) -> str:
    """Escape a value for use inside a line of Markdown: one line, no formatting. None becomes ''."""
    if value is None:
        return ""
    return _escape_line(" ".join(str(value).split()))


def md_block(value: object) -> str:
    """Escape free text as Markdown paragraphs, keeping its line breaks (blank lines separate paragraphs)."""
    if value is None:
        return ""
    paragraphs = re.split(r"\n[ \t]*\n", str(value).replace("\r\n", "\n").replace("\r", "\n"))
    rendered = []
    for paragraph in paragraphs:
        lines = [_escape_line(line) for line in paragraph.split("\n") if line.strip()]
        if lines:
            # A backslash at the end of a line is a CommonMark hard line break.
            rendered.append("\\\n".join(lines))
    return "\n\n".join(rendered)


def md_lines(values: Iterable[object]) -> str:
    """Escape values as consecutive lines of one paragraph (an address block), skipping empty ones."""
    return "\\\n".join(md_inline(value) for value in values if value is not None and str(value).strip())


def md_url(value: object) -> str:
    """Show a web address as a Markdown autolink when it is a plain http(s) URL, else as escaped text."""
    text = "" if value is None else str(value).strip()
    return f"<{text}>" if _SAFE_URL.match(text) else md_inline(text)


def labelled(names: Iterable[str], labels: dict[str, str]) -> list[str]:
    """Translate names (fields, categories) to the letter's labels; a name without a label stays as it is."""
    return [labels.get(name, name) for name in names]


def category(item: str | dict[str, Any], labels: dict[str, str]) -> str:
    """Describe a data category: its label, or "label (count): field, field" for {category, count, fields}."""
    if isinstance(item, str):
        return labels.get(item, item)
    name = str(item["category"])
    text = labels.get(name, name)
    if item.get("count"):
        text += f" ({item['count']})"
    if item.get("fields"):
        text += ": " + ", ".join(labelled(item["fields"], labels))
    return text


def authority_name(authority: dict[str, Any]) -> str:
    """Name a supervisory authority in its own language and in English: "native (English)", once if the same."""
    native, english = authority.get("name_native"), authority.get("name_en")
    if native and english and native != english:
        return f"{native} ({english})"
    return str(native or english or "")


def format_date(value: dt.date | dt.datetime | str, language: str) -> str:
    """Format a date the way a letter in the language writes it: 3.11.2026, or 3 November 2026 in English."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value or " " in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        # A moment is shown as the date it was in Finland, where the controller keeps the register.
        value = value.astimezone(_LOCAL_TIME).date() if value.tzinfo else value.date()
    if language == "en":
        return f"{value.day} {_ENGLISH_MONTHS[value.month - 1]} {value.year}"
    return f"{value.day}.{value.month}.{value.year}"


@jinja2.pass_context
def _date_filter(context: jinja2.runtime.Context, value: dt.date | dt.datetime | str) -> str:
    """Format a date in the language of the letter being rendered."""
    return format_date(value, str(context["language"]))
