"""Wikitext to HTML for ``bundle serve``: pandoc's MediaWiki reader, through pypandoc.

Pandoc (Debian's ``pandoc``) parses headings, lists, tables, bold and italic,
links and images; ``wikitext.lua`` beside this file points internal links at
``/wiki/Title`` and images at ``/file/Name`` (the store's uploads), and draws a
template call as a box with its name and parameters (pandoc keeps templates as
raw MediaWiki, which the HTML writer would drop). Raw HTML in the wikitext is
dropped by the filter (pandoc 2.17 passes it on even with ``-raw_html``), and links
other than http(s), mailto and wiki links keep only their text: a page cannot carry a
script into the browser.
"""

from __future__ import annotations

import os

from ..errors import UsageError

FILTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wikitext.lua")


def render(wikitext: str) -> str:
    """The page's HTML body (a fragment)."""
    import pypandoc

    if not wikitext.strip():
        return ""
    try:
        return pypandoc.convert_text(
            wikitext, "html5", format="mediawiki", extra_args=["--lua-filter", FILTER, "--wrap=none"]
        )
    except OSError:
        raise UsageError("pandoc is not installed, so pages cannot be shown",
                         hint="Install it: apt-get install pandoc") from None
    except RuntimeError as e:  # pandoc refused the text: show it as it is
        from html import escape

        return f'<p class="error">This page could not be rendered ({escape(str(e).splitlines()[0])}):</p><pre>{escape(wikitext)}</pre>'
