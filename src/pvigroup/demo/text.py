"""Text clean-up of the demo corpora: whitespace squeezed, HTML e-mail bodies reduced to text."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser


def squeeze(text: str) -> str:
    """``text`` with every whitespace run (newlines, tabs, non-breaking spaces) as one space."""
    return " ".join(text.split())


class _TextOfHtml(HTMLParser):
    """Collects the text of an HTML document, skipping style/script/head content."""

    SKIP = frozenset({"style", "script", "head", "title"})
    BREAK = frozenset({"br", "p", "div", "tr", "td", "li", "table", "hr", "h1", "h2", "h3", "h4"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BREAK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


_HTML_HINT = re.compile(
    r"<\s*(html|body|br|p|pre|div|font|table|tr|td|img|a\s|span|b|i|center)\b[^>]*>", re.IGNORECASE
)


def html_to_text(text: str) -> str:
    """Plain text of an e-mail body: HTML tags removed when it looks like HTML, entities decoded,
    whitespace squeezed. A plain-text body keeps its angle brackets (``<user@host>``)."""
    if _HTML_HINT.search(text):
        parser = _TextOfHtml()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(text)
    return squeeze(text)
