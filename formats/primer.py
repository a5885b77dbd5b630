"""Build formats/primer-v1.bin, the priming text of capability ``primer-v1`` (BUNDLE.md §Primer).

    .venv/bin/python formats/primer.py [--mediawiki /usr/share/mediawiki] [--out formats/primer-v1.bin]

The primer is what both sides put beside a records frame's dictionary, so the coder (zstd's
raw dictionary, or the PPMd model of ``ppmd7-primed``) already knows what a small frame is
made of before it sees one: MediaWiki's own automatic edit summaries, the comments of null
revisions and signature pieces, common wikitext, and the msgpack skeletons of compact
payloads. Everything comes from Debian's MediaWiki 1.39 (package ``mediawiki`` 1:1.39.*):
messages from ``languages/i18n/<code>.json``; namespace names, magic words and date formats
from ``languages/messages/Messages<Code>.php``, read by PHP (``php`` on PATH) with the
namespace constants defined as MediaWiki defines them. The output is normative: its SHA-256
is in BUNDLE.md §Primer and ``bundler/coder.py``; this script rebuilds it byte for byte from
the same MediaWiki.

The file is a msgpack array of parts: part 0, the common part (English summaries and
signatures, wikitext, payload skeletons: 2.6 KB), then one part per language of
``LANGUAGES`` (1–4 KB each); a frame names the parts it uses (at most one language).
Measured on small frames of seven real wikis, the writer keeping the smaller of with and
without: the common part makes them 17% smaller; the blocks of the 10 or 25 most used other
languages *in one text* with it (21 KB, 50 KB) gained less than the common part alone on
every English wiki and most others (PPMd's statistics and zstd's offsets pay for the text a
frame does not use), while a wiki's *own* language block, alone beside the common part,
gained another 3–7% (Spanish, Korean). Hence parts, named per frame.

Order matters: zstd's offsets are cheapest near the end of its dictionary and PPMd's
statistics lean towards what it saw last, so within the common part what a small frame uses
most comes last: English summaries, then wikitext, then the payload skeletons. A writer puts
the parts *after* the frame's base texts (measured: 0.8% smaller than before them), right
before the payload.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import msgpack

# The language blocks, in the order of their numbers (a frame names block i as dict entry -i;
# the first 32 take one byte): by the size of their Wikipedia and the number of MediaWiki sites
# written in them. English is in the common part.
LANGUAGES = (
    "de", "fr", "es", "it", "ru", "ja", "zh-hans", "pt", "pl", "nl", "sv", "uk", "ar", "fa", "ca", "vi", "id", "tr",
    "cs", "hu", "nb", "fi", "ko", "uz", "kk-cyrl", "ka", "be", "az", "ur", "ta", "et", "lt", "sl", "hr", "gl", "eu",
    "bn", "hi", "th", "ro", "he", "sk", "el", "da", "bg", "hy", "ms", "sr-ec", "eo",
)

# The i18n messages that end up in revisions: automatic edit summaries (MediaWiki writes
# them into rev_comment), the comments of null revisions (moves, protections, imports,
# uploads), and what signatures and talk-page links are made of.
SUMMARY_KEYS = (
    "undo-summary", "undo-summary-anon", "undo-summary-username-hidden", "revertpage", "revertpage-anon",
    "revertpage-nouser", "autosumm-new", "autosumm-newblank", "autosumm-replace", "autosumm-blank",
    "autoredircomment", "autosumm-removed-redirect", "autosumm-changed-redirect-target", "newsectionsummary",
    "logentry-move-move", "logentry-move-move_redir", "protectedarticle-comment",
    "modifiedarticleprotection-comment", "unprotectedarticle-comment", "import-logentry-upload-detail",
    "import-logentry-interwiki-detail", "uploadedimage", "overwroteimage", "delete_and_move_reason",
    "mergehistory-comment", "talkpagelinktext", "contribslink", "timezone-utc",
)
MONTHS = ("january", "february", "march", "april", "may_long", "june", "july", "august", "september", "october",
          "november", "december")
MAGIC_WORDS = ("redirect", "defaultsort", "notoc", "toc", "forcetoc", "nogallery", "displaytitle")
# Namespaces met in links and summaries: User, User talk, Project, File, Template, Category,
# Help, and Special (Special:Contributions). Talk ("1") is the most common talk page.
NAMESPACES = ("-1", "1", "2", "3", "4", "6", "10", "12", "14")
CANONICAL = {"-1": "Special", "1": "Talk", "2": "User", "3": "User talk", "4": "Project", "6": "File",
             "10": "Template", "12": "Help", "14": "Category"}

# Language-neutral wikitext (syntax every wiki shares), then English conventions that
# wikis in every language copy (reference templates, section names of English Wikipedia).
WIKITEXT = """{{DEFAULTSORT:}}
[[Category:]]
[[File:Example.jpg|thumb|right|250px|]]
[[Image:Example.png|thumb|]]
{| class="wikitable sortable"
|-
! !! 
| || 
|}
<ref name="">{{cite web |url=https:// |title= |publisher= |date= |access-date= }}</ref>
<ref>{{cite book |last= |first= |title= |year= |publisher= |isbn= |pages= }}</ref>
<ref>{{cite news |url= |title= |work= |date= }}</ref>
<ref name="" />
<references />
<br />
<small></small>
<div style="text-align:center"></div>
<gallery>
</gallery>
<nowiki></nowiki>
<!-- -->
'''''' '' ''
* [https://www. ]
# 
: 
== References ==
{{Reflist}}
== External links ==
== See also ==
{{Infobox
| name = 
| image = 
| caption = 
| website = 
}}
{{Commons category|}}
{{Authority control}}
{{stub}}
{{-stub}}
#REDIRECT [[]]
"""

SAMPLE = {"user": "Example", "ip": "192.0.2.1", "page": "Example", "target": "Example/2"}


def php_data(mediawiki: str, code: str) -> dict:
    """Namespace names, magic words and date formats of Messages<Code>.php, read by PHP itself."""
    name = "Messages" + code[0].upper() + code[1:].replace("-", "_") + ".php"
    path = os.path.join(mediawiki, "languages", "messages", name)
    if not os.path.exists(path):
        return {}
    with tempfile.NamedTemporaryFile("w", suffix=".php", delete=False) as f:
        f.write(_PHP)
    try:
        out = subprocess.run(["php", f.name, path], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out)


_PHP = r"""<?php
define('MEDIAWIKI', 1);
foreach (['NS_MEDIA' => -2, 'NS_SPECIAL' => -1, 'NS_MAIN' => 0, 'NS_TALK' => 1, 'NS_USER' => 2, 'NS_USER_TALK' => 3,
          'NS_PROJECT' => 4, 'NS_PROJECT_TALK' => 5, 'NS_FILE' => 6, 'NS_FILE_TALK' => 7, 'NS_IMAGE' => 6,
          'NS_IMAGE_TALK' => 7, 'NS_MEDIAWIKI' => 8, 'NS_MEDIAWIKI_TALK' => 9, 'NS_TEMPLATE' => 10,
          'NS_TEMPLATE_TALK' => 11, 'NS_HELP' => 12, 'NS_HELP_TALK' => 13, 'NS_CATEGORY' => 14,
          'NS_CATEGORY_TALK' => 15] as $k => $v) { define($k, $v); }
$namespaceNames = $magicWords = $dateFormats = []; $defaultDateFormat = 'dmy';
include $argv[1];
echo json_encode(['ns' => (object)$namespaceNames, 'magic' => (object)$magicWords, 'dates' => (object)$dateFormats,
                  'default' => $defaultDateFormat], JSON_UNESCAPED_UNICODE);
"""


def messages(mediawiki: str, code: str) -> dict:
    path = os.path.join(mediawiki, "languages", "i18n", f"{code}.json")
    with open(path, encoding="utf-8") as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("@")}


def expand(text: str, msgs: dict, ns: dict, args: dict[str, str]) -> str:
    """A message as MediaWiki writes it into a revision: {{GENDER:}}, {{PLURAL:}} and
    {{int:}} resolved, {{ns:}} to the namespace's name, $n to sample values, &#32; to a space."""
    for _ in range(3):
        text = re.sub(r"\{\{int:([^}|]+)\}\}", lambda m: msgs.get(m.group(1).strip(), ""), text)
    text = _first_form(text)
    text = re.sub(r"\{\{ns:([^}]+)\}\}", lambda m: ns.get({"user": "2", "user_talk": "3"}.get(m.group(1).strip().lower(), ""), ""), text)
    text = re.sub(r"\{\{#special:([^}]+)\}\}", lambda m: ns.get("-1", "Special") + ":" + m.group(1), text)
    text = text.replace("&#32;", " ")
    return re.sub(r"\$(\d)", lambda m: args.get(m.group(1), ""), text)


def _first_form(text: str) -> str:
    """{{GENDER:$1|A|B}} and {{PLURAL:$1|A|B}} as their first form A (which may hold [[a|b]] links)."""
    while (m := re.search(r"\{\{(?:GENDER|PLURAL):[^|}]*\|", text, flags=re.I)):
        i, depth, forms, start = m.end(), 0, [], m.end()
        while i < len(text):
            if text.startswith(("[[", "{{"), i):
                depth += 1
                i += 2
            elif text.startswith(("]]", "}}"), i) and depth:
                depth -= 1
                i += 2
            elif text.startswith("}}", i) or (text[i] == "|" and not depth):
                forms.append(text[start:i])
                if text[i] == "|":
                    start = i = i + 1
                    continue
                break
            else:
                i += 1
        text = text[: m.start()] + (forms[0] if forms else "") + text[i + 2:]
    return text


def render_date(fmt: str, months: list[str], months_gen: list[str]) -> str:
    """A signature's date, 15:20 on 30 March 2023, in PHP-style format ``fmt`` (the letters MediaWiki uses)."""
    values = {"j": "30", "d": "30", "n": "3", "m": "03", "Y": "2023", "y": "23", "H": "15", "G": "15", "i": "20",
              "s": "00", "F": months[2], "xg": months_gen[2], "M": months[2][:3], "D": "", "l": ""}
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == '"':
            j = fmt.index('"', i + 1)
            out.append(fmt[i + 1:j])
            i = j + 1
        elif fmt[i] == "\\" and i + 1 < len(fmt):
            out.append(fmt[i + 1])
            i += 2
        elif fmt.startswith("xg", i):
            out.append(values["xg"])
            i += 2
        elif fmt[i] == "x":  # other x-modifiers (calendars, digits): not in signatures of these languages
            i += 2
        else:
            out.append(values.get(fmt[i], fmt[i]))
            i += 1
    return "".join(out)


def _args(key: str) -> dict[str, str]:
    """Sample values for a message's $1, $2, ... as MediaWiki fills them in."""
    user, page, target = SAMPLE["user"], SAMPLE["page"], SAMPLE["target"]
    if key.startswith("undo-summary"):  # $1 the undone revision's id, $2 its author
        return {"1": "123456", "2": user, "3": user}
    if key.startswith("logentry-move"):  # the null revision's comment: the log entry's plain text
        return {"1": user, "2": user, "3": f"[[{page}]]", "4": f"[[{target}]]"}
    if key.startswith("import-logentry"):
        return {"1": "1", "2": "en"}
    if key == "mergehistory-comment":
        return {"1": page, "2": target, "3": ""}
    return {"1": user, "2": user, "3": page, "4": target}


def language_block(mediawiki: str, code: str) -> str:
    msgs = messages(mediawiki, code)
    php = php_data(mediawiki, code)
    ns = {k: v.replace("_", " ") for k, v in php.get("ns", {}).items()}
    names = {k: ns.get(k, CANONICAL[k]) for k in NAMESPACES}
    user, talk = names["2"], names["3"]
    lines = [expand(msgs[k], msgs, names, _args(k)) for k in SUMMARY_KEYS if k in msgs]
    months = [msgs.get(m, "") for m in MONTHS]
    months_gen = [msgs.get(m + "-gen", months[i]) for i, m in enumerate(("january", "february", "march", "april",
                                                                          "may", "june", "july", "august", "september",
                                                                          "october", "november", "december"))]
    lines.append(" ".join(m for m in months if m))
    dates = php.get("dates", {})
    both = dates.get(f"{php.get('default') or 'dmy'} both") or dates.get("dmy both") or "H:i, j F Y"
    stamp = render_date(both, months, months_gen) + " (" + msgs.get("timezone-utc", "UTC") + ")"
    tl = msgs.get("talkpagelinktext", "talk")
    lines.append(f"[[{user}:{SAMPLE['user']}|{SAMPLE['user']}]] ([[{talk}:{SAMPLE['user']}|{tl}]]) {stamp}")
    lines.append(f"[[{names['-1']}:Contributions/{SAMPLE['ip']}|{SAMPLE['ip']}]] {stamp}")
    lines.append(" ".join(f"[[{names[k]}:" for k in ("14", "6", "10", "4", "12", "1") if names[k] != CANONICAL[k]))
    for w in MAGIC_WORDS:
        local = [a for a in php.get("magic", {}).get(w, [])[1:] if not a.isascii()]
        if local:
            lines.append(local[0] + ("[[]]" if w == "redirect" else ""))
    return "\n".join(lines) + "\n"


def skeletons() -> bytes:
    """Compact payloads (BUNDLE.md §Compact form) of the smallest updates: one edit of a page
    the receiver holds, by a registered user and by an IP editor, and a new page; what is
    the same in every such payload is what the coder learns (the array and column headers,
    the models, the empty trailing columns, a 4-byte timestamp)."""
    models = [["wikitext", "text/x-wiki"]]
    def payload(pages, users, rows, ins, ts):
        revs = [[0] * rows, [1234567] + [1] * (rows - 1), [0] * rows, [ts] + [600] * (rows - 1), [0] * rows,
                ["/* Section */ new section"] + [None] * (rows - 1), [0] * rows, [0] * rows, [1] * rows,
                [2] * rows, [0, 1234, 0, 0] * rows, ins * rows, [], []]
        return msgpack.packb([None, pages, users, models, revs, [], [], []], use_bin_type=True)
    edit = payload([[12345, 0, None, None]], [["Example", 123]], 1, ["", "\n\n== Section ==\n\ntext"], 1680189630)
    anon = payload([[12345, 1, None, None]], [["192.0.2.1", None]], 1, ["", "text"], 1671656041)
    new = msgpack.packb([None, [[12346, 0, "Example", None]], [["Example", 123]],
                         [["wikitext", "text/x-wiki"], ["css", "text/css"], ["javascript", "text/javascript"],
                          ["json", "application/json"], ["Scribunto", "text/plain"]],
                         [[0], [1234568], [None], [1680189630], [0], ["Created page with \"text\""], [0], [0], [-1],
                          [1], [0, 0], ["text"], [], []], [], [], []], use_bin_type=True)
    return new + anon + edit


def build(mediawiki: str) -> bytes:
    """The primer file: a msgpack array of bins, the common part (English, wikitext, payload
    skeletons) and then one block per language of ``LANGUAGES``."""
    common = (language_block(mediawiki, "en") + WIKITEXT).encode("utf-8") + skeletons()
    blocks = [language_block(mediawiki, code).encode("utf-8") for code in LANGUAGES]
    return msgpack.packb([common, *blocks], use_bin_type=True)


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mediawiki", default="/usr/share/mediawiki", help="MediaWiki's install directory (Debian's)")
    p.add_argument("--out", default=os.path.join(here, "primer-v1.bin"))
    a = p.parse_args()
    data = build(a.mediawiki)
    with open(a.out, "wb") as f:
        f.write(data)
    print(f"{a.out}: {len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()}", file=sys.stderr)


if __name__ == "__main__":
    main()
