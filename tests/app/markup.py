"""Find markup a page would render from outside text: links, images, HTML anchors, bare URLs.

`rendered_markup(at)` reads every element of an AppTest run: each field Streamlit renders as
markdown (bodies of markdown/caption/alerts/headings/toasts, widget labels and help, radio
options, expander labels) is parsed with markdown-it (CommonMark, the grammar Streamlit's
react-markdown follows), and each plotly figure's JSON is searched for plotly's `<a href>`.
The app writes no links or URLs of its own, so any hit is markup that came from outside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from google.protobuf.message import Message
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

_MARKDOWN = MarkdownIt("commonmark", {"html": True})
MARKDOWN_FIELDS = {"body", "label", "help", "captions"}  # read as markdown by the frontend
_HTML_TAG = re.compile(r"<\s*(a|img|iframe|script|image|svg)\b", re.IGNORECASE)
# GFM autolink literals (https://…, www.…) are found in the source outside code spans; an
# escaped character (`https\:`, `www\.`) stops them, as it stops remark-gfm.
_BARE_URL = re.compile(r"(?:https?|ftp)://|\bwww\.|mailto:", re.IGNORECASE)
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
# remark-gfm (Streamlit 1.67's markdown) also links URLs and e-mail addresses it finds in the
# text *after* escapes are read (its own patterns, below): `https\:\/\/x` is the text
# "https://x" and becomes a link. markdown-it's text tokens hold that text.
_TEXT_URL = re.compile(r"(https?://|www(?=\.))[-.\w]+", re.IGNORECASE)
_TEXT_EMAIL = re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+")


def markup_in_markdown(source: str) -> list[str]:
    """Every link, image, raw anchor/image tag or bare URL that `source` renders."""
    found = []
    tokens = list(_MARKDOWN.parse(source))
    for token in tokens + [child for token in tokens for child in token.children or []]:
        if token.type == "link_open":
            found.append(f"link to {token.attrGet('href')!r}")
        elif token.type == "image":
            found.append(f"image from {token.attrGet('src')!r}")
        elif token.type in ("html_inline", "html_block") and _HTML_TAG.search(token.content):
            found.append(f"HTML {token.content[:60]!r}")
        elif token.type == "text":
            found += [f"text link {m.group(0)!r}" for m in (*_TEXT_URL.finditer(token.content),
                                                          *_TEXT_EMAIL.finditer(token.content))]
    outside_code = _CODE_SPAN.sub("", source)
    for match in _BARE_URL.finditer(outside_code):
        found.append(f"bare URL {outside_code[match.start():match.start() + 40]!r}")
    return found


def markup_in_plotly(spec: str) -> list[str]:
    """Plotly's HTML-like text: a tag plotly renders (`<a href>`) anywhere in the figure's JSON."""
    text = json.dumps(json.loads(spec))  # one form of escaping, whatever the encoder did
    return [f"plotly {m.group(0)!r}" for m in re.finditer(r"<\s*a\b[^>]*>", text, re.IGNORECASE)]


def _strings(message: Message, rendered: bool = False) -> Iterator[str]:
    """Strings of `message` in markdown fields (and in all fields below one), recursively."""
    for field, value in message.ListFields():
        as_markdown = rendered or field.name in MARKDOWN_FIELDS or (
            field.name == "options" and type(message).__name__ == "Radio"
        )
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                yield from _strings(item, as_markdown and field.name != "options")
            elif isinstance(item, str) and as_markdown:
                yield item


def rendered_markup(at: AppTest) -> list[str]:
    """Markup (links, images, anchors, bare URLs) anywhere on the page AppTest ran."""
    found = []
    for node in at._tree:
        proto = getattr(node, "proto", None)
        if not isinstance(proto, Message):
            continue
        if getattr(node, "type", "") == "plotly_chart":
            found += markup_in_plotly(proto.spec)
            continue
        for text in _strings(proto):
            found += [f"{getattr(node, 'type', '?')}: {hit}" for hit in markup_in_markdown(text)]
    return found


def unescaped(source: str) -> str:
    """The text a reader sees of markdown made by `escape_markdown` (backslash escapes and the
    invisible word joiners that stop autolinks removed)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", source).replace("\u2060", "")
