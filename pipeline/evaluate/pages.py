"""Markdown reports as standalone HTML pages, for `snakemake --report`: its report shows an
HTML result inline but only offers .md, .csv and .json results as downloads.

Raw HTML in the markdown is escaped (descriptions may hold text an LLM wrote), except the
``<br>`` the reports use for line breaks inside table cells. Images, links and autolinks are
not rendered (their markdown stays as text): a page opened from a report fetches nothing and
sends no reader elsewhere on the word of an LLM or a dictionary file (issue 28).
"""
from __future__ import annotations

import html
import re

STYLE = """body { font-family: sans-serif; font-size: 14px; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: #f0f0f0; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f4f4f4; padding: 0 3px; }"""


def markdown_html(text: str) -> str:
    """The body HTML of a markdown text: CommonMark with pipe tables, raw HTML escaped, no
    images or links."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["image", "link", "autolink"])
    body = md.render(text)
    return re.sub(r"&lt;br\s*/?&gt;", "<br>", body)


def markdown_page(text: str, title: str | None = None) -> str:
    """A standalone HTML page of a markdown text; ``title`` defaults to its first heading."""
    if title is None:
        heading = re.search(r"^#+\s+(.+)$", text, re.M)
        title = heading.group(1).strip() if heading else "report"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n{markdown_html(text)}</body>\n</html>\n")
