"""What of a graded notebook may reach a feedback page: an allowlist, applied before nbconvert.

A graded notebook carries the learner's cells and whatever their code put in its outputs, so
every field is hostile until checked. nbconvert's lab template with ``sanitize_html`` cleans
HTML and Markdown with bleach, but it writes other fields into the page as they come: a
``text/vnd.mermaid`` output verbatim, an image's ``width`` and ``height`` metadata into an
unquoted attribute, ``execution_count`` into the prompt, a widget view into ``<script>``
elements. Rather than patch the HTML afterwards, :func:`safe_notebook` rebuilds the notebook
from the fields the template may read, each in the shape the template assumes:

* cells: ``code``, ``markdown`` and ``raw`` only; source a string; metadata reduced to
  ``tags`` (plain tokens, no whitespace or quotes) and a raw cell's ``raw_mimetype``; a
  cell id that matches nbformat's pattern (or a fresh one); ``execution_count`` a
  non-negative int or ``None``;
* Markdown attachments: PNG, JPEG, GIF whose base64 decodes to that format, and SVG whose
  base64 decodes to text (the template only ever makes them ``<img>`` data URIs); others
  are dropped, and :class:`Attachments` renders a reference to one as a blank image
  (nbconvert would refuse the whole page);
* outputs: ``stream`` (``stdout``/``stderr``, text a string), ``error`` (strings, the
  traceback a list of them; in these and in ``text/plain`` a colour code that nbconvert's
  ``ansi2html`` would crash on is left out), ``display_data`` and ``execute_result``
  with their data reduced to :data:`RENDERED` and validated: images must be valid base64
  of a PNG or JPEG; SVG is kept as text because the template embeds it as an ``<img>``
  data URI, never inline; ``application/javascript`` keeps its key (so the template still
  picks it, as stock nbconvert does, and writes its empty placeholder) but not its code.
  Everything else (``text/vnd.mermaid``, widget views, PDF, JSON, unknown types,
  malformed data) is dropped; when nothing renderable is left, a short ``text/plain``
  note says what was dropped;
* output metadata: for images only ``width``/``height`` (plain positive ints),
  ``unconfined`` (``True``) and ``needs_background`` (``light``/``dark``); no
  ``filenames`` (a URL the learner chooses), no ``isolated``, nothing else;
* notebook metadata: ``title``, ``kernelspec`` and ``language_info`` as plain strings (the
  Pygments lexer name a plain token); no ``widgets`` state, so no widget loader scripts.

For the notebooks a course produces (text, figures, HTML tables, errors) the result renders
exactly as the original does, tag for tag. :func:`clean_html` replaces nbconvert's bleach
pass: a wider list of tags (nbconvert's escapes ``<p>`` and headings), links and images
checked, and learner HTML may not carry the classes a Mermaid loader looks for
(``jp-Mermaid``, ``mermaid``).
"""
import base64
import binascii
import functools
import re

import bleach
import nbformat
from bleach.html5lib_shim import Filter

#: the output MIME types whose data may reach the page (checked in ``_bundle``)
RENDERED = ("text/plain", "text/html", "text/markdown", "text/latex", "image/svg+xml",
            "image/png", "image/jpeg", "application/javascript")

_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
          "image/gif": (b"GIF87a", b"GIF89a")}
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TAG = re.compile(r"^[^\s,\"'<>&`=]{1,100}$")
_TOKEN = re.compile(r"^[\w.+#-]{1,64}$")
_MIME_NAME = re.compile(r"^[\w.+-]{1,60}/[\w.+-]{1,80}$")
_WHITESPACE = re.compile(rb"[\t\n\r ]+")
_ANSI = re.compile("\x1b\\[(.*?)([@-~])")      # nbconvert.filters.ansi's own pattern
_MAX_IMAGE_SIDE = 100_000
# a transparent 1x1 PNG, standing in for a Markdown attachment that is not there
_BLANK_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNgYGBgAAAABQABh6FO1A"
              "AAAABJRU5ErkJggg==")


def _text(value):
    """A string, or a list of strings joined as nbformat does; anything else is ``None``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def _terminal(value):
    """Text that nbconvert's ``ansi2html`` will show: a string, with any colour code it would
    crash on (a bare 38 or 48 at the end, which costs the learner the whole page) left out."""
    text = _text(value)
    if text is None or "\x1b" not in text:
        return text
    return _ANSI.sub(lambda m: "" if m.group(2) == "m" and _sgr_crashes(m.group(1))
                     else m.group(0), text)


def _sgr_crashes(params):
    # nbconvert.filters.ansi._ansi2anything, walking the same numbers
    try:
        numbers = [int(n) if n else 0 for n in params.split(";")]
    except ValueError:
        return False
    i = 0
    while i < len(numbers):
        n, i = numbers[i], i + 1
        if n in (38, 48):
            if i >= len(numbers):
                return True
            kind, i = numbers[i], i + 1
            if kind == 2 and len(numbers) - i >= 3:
                rgb, i = numbers[i:i + 3], i + 3
                if not all(0 <= c <= 255 for c in rgb):
                    return False
            elif kind == 5 and len(numbers) - i >= 1:
                index, i = numbers[i], i + 1
                if not 0 <= index < 256:
                    return False
            else:
                return False
    return False


def _base64_image(value, mime):
    """``value`` if it is base64 of a ``mime`` image (whitespace allowed, as nbformat writes
    it), else ``None``."""
    text = _text(value)
    if text is None or not text.isascii():
        return None
    try:
        raw = base64.b64decode(_WHITESPACE.sub(b"", text.encode()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if mime == "image/svg+xml":
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return text if raw else None
    return text if raw.startswith(_MAGIC[mime]) else None


def _positive_int(value):
    return value if type(value) is int and 0 < value <= _MAX_IMAGE_SIDE else None


def _image_metadata(md):
    """The keys the lab template reads for an image, each in the one shape it expects."""
    out = {}
    if not isinstance(md, dict):
        return out
    for key in ("width", "height"):
        if _positive_int(md.get(key)) is not None:
            out[key] = md[key]
    if md.get("unconfined") is True:
        out["unconfined"] = True
    if md.get("needs_background") in ("light", "dark"):
        out["needs_background"] = md["needs_background"]
    return out


def _bundle(data, metadata):
    """``(data, metadata)`` of a display output, reduced to what renders safely."""
    data = data if isinstance(data, dict) else {}
    clean, dropped = {}, []
    for mime, value in data.items():
        if mime in ("image/png", "image/jpeg"):
            kept = _base64_image(value, mime)
        elif mime == "application/javascript":
            kept = "" if _text(value) is not None else None   # the key, never the code
        elif mime == "text/plain":
            kept = _terminal(value)
        elif mime in RENDERED:
            kept = _text(value)
        else:
            kept = None
        if kept is None:
            dropped.append(mime)
        else:
            clean[mime] = kept
    if not any(m != "application/javascript" for m in clean) and dropped:
        names = sorted({m if isinstance(m, str) and _MIME_NAME.match(m) else "unknown"
                        for m in dropped})
        clean["text/plain"] = ("[output not shown in the feedback page: "
                               + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
                               + "]")
    md = {}
    metadata = metadata if isinstance(metadata, dict) else {}
    top = _image_metadata(metadata)
    if top and any(m in clean for m in ("image/png", "image/jpeg")):
        md.update(top)
    for mime in ("image/png", "image/jpeg"):
        if mime in clean:
            per = _image_metadata(metadata.get(mime))
            if per:
                md[mime] = per
    return clean, md


def _execution_count(value):
    return value if type(value) is int and value >= 0 else None


def _output(out):
    """One output in nbformat's shape, or ``None`` to drop it."""
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        text = _terminal(out.get("text"))
        if text is None:
            return None
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        return {"output_type": "stream", "name": name, "text": text}
    if kind == "error":
        tb = out.get("traceback")
        tb = [tb] if isinstance(tb, str) else tb if isinstance(tb, list) else []
        return {"output_type": "error", "ename": _scalar(out.get("ename")),
                "evalue": _scalar(out.get("evalue")),
                "traceback": [_terminal(_scalar(line)) for line in tb]}
    if kind in ("display_data", "execute_result"):
        data, md = _bundle(out.get("data"), out.get("metadata"))
        new = {"output_type": kind, "data": data, "metadata": md}
        if kind == "execute_result":
            new["execution_count"] = _execution_count(out.get("execution_count"))
        return new
    return None


def _scalar(value):
    text = _text(value)
    if text is not None:
        return text
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _attachments(attachments):
    out = {}
    if not isinstance(attachments, dict):
        return out
    for name, bundle in attachments.items():
        if not isinstance(name, str):
            continue
        kept = {}
        if isinstance(bundle, dict):
            for mime in ("image/svg+xml", "image/png", "image/jpeg", "image/gif"):
                value = _base64_image(bundle.get(mime), mime)
                if value is not None:
                    kept[mime] = value
        if kept:
            out[name] = kept
    return out


class Attachments(dict):
    """A cell's attachments for nbconvert's Markdown renderer: a name that is not there (the
    learner's Markdown names one it lacks, or :func:`safe_notebook` dropped it) is a blank
    image instead of an ``InvalidNotebook`` error that would cost the learner the page."""

    def __contains__(self, name):
        return True

    def __getitem__(self, name):
        return dict.get(self, name) or {"image/png": _BLANK_PNG}


def _cell_metadata(md, cell_type):
    md = md if isinstance(md, dict) else {}
    out = {}
    tags = md.get("tags")
    if isinstance(tags, list):
        kept = []
        for tag in tags:
            if isinstance(tag, str) and _TAG.match(tag) and tag not in kept:
                kept.append(tag)
        if kept:
            out["tags"] = kept
    if cell_type == "raw" and isinstance(md.get("raw_mimetype"), str):
        out["raw_mimetype"] = md["raw_mimetype"]
    return out


def _notebook_metadata(md):
    md = md if isinstance(md, dict) else {}
    out = {}
    if isinstance(md.get("title"), str):
        out["title"] = md["title"]
    spec = md.get("kernelspec")
    if isinstance(spec, dict):
        kept = {k: spec[k] for k in ("name", "display_name", "language")
                if isinstance(spec.get(k), str)}
        if "name" in kept and "display_name" in kept:
            out["kernelspec"] = kept
    info = md.get("language_info")
    if isinstance(info, dict) and isinstance(info.get("name"), str):
        kept = {k: info[k] for k in ("name", "version", "mimetype", "file_extension",
                                     "nbconvert_exporter") if isinstance(info.get(k), str)}
        for key in ("pygments_lexer", "codemirror_mode"):
            if isinstance(info.get(key), str) and _TOKEN.match(info[key]):
                kept[key] = info[key]
        if not _TOKEN.match(kept["name"]):
            kept["name"] = "python"
        out["language_info"] = kept
    return out


def safe_notebook(nb):
    """A new notebook with only what :mod:`grader.feedback` may render (see the module doc);
    ``nb`` (a dict or NotebookNode) is left as it is."""
    nb = nb if isinstance(nb, dict) else {}
    minor = nb.get("nbformat_minor")
    minor = minor if type(minor) is int and 0 <= minor <= 5 else 5
    cells, ids = [], set()
    for i, cell in enumerate(nb.get("cells") if isinstance(nb.get("cells"), list) else []):
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        source = _text(cell.get("source"))
        source = "" if source is None else source
        if kind not in ("code", "markdown", "raw"):
            continue
        new = {"cell_type": kind, "metadata": _cell_metadata(cell.get("metadata"), kind),
               "source": source}
        if kind == "code":
            outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
            new["execution_count"] = _execution_count(cell.get("execution_count"))
            new["outputs"] = [o for o in map(_output, outputs) if o is not None]
        elif kind == "markdown":
            attachments = _attachments(cell.get("attachments"))
            if attachments:
                new["attachments"] = attachments
        if minor >= 5:
            cid = cell.get("id")
            if not (isinstance(cid, str) and _CELL_ID.match(cid)) or cid in ids:
                cid = f"feedback-cell-{i}"
                while cid in ids:
                    cid += "-x"
            ids.add(cid)
            new["id"] = cid
        cells.append(new)
    # plain dicts throughout: nbformat's constructors validate each node, many times the cost
    return nbformat.from_dict({"nbformat": 4, "nbformat_minor": minor, "cells": cells,
                               "metadata": _notebook_metadata(nb.get("metadata"))})


# -- a second rule for nbconvert's bleach pass -------------------------------------------------

#: classes the lab template's own scripts select on (``.jp-Mermaid > pre.mermaid``)
RESERVED_CLASSES = frozenset({"jp-mermaid", "mermaid"})


class _DropReservedClasses(Filter):
    def __iter__(self):
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token.get("data"):
                key = (None, "class")
                if key in token["data"]:
                    classes = [c for c in token["data"][key].split()
                               if c.lower() not in RESERVED_CLASSES]
                    if classes:
                        token["data"][key] = " ".join(classes)
                    else:
                        del token["data"][key]
            yield token


#: what rendered Markdown and HTML outputs may contain: text structure, tables, images as
#: data URIs, links to the web, and presentation MathML (math is converted when the page is
#: written, ``grader/mathml.py``). nbconvert's own list lacks ``p``, headings, ``thead``
#: and ``th``, and bleach *escapes* what it does not allow, so every Markdown cell showed
#: its tags as text.
MATH_TAGS = frozenset({
    "math", "mi", "mn", "mo", "ms", "mspace", "mtext", "mrow", "mfrac", "msqrt", "mroot",
    "mstyle", "merror", "mpadded", "mphantom", "menclose", "msub", "msup", "msubsup",
    "munder", "mover", "munderover", "mmultiscripts", "mprescripts", "none", "mtable",
    "mtr", "mtd", "semantics", "annotation"})
PAGE_TAGS = MATH_TAGS | {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "kbd", "li", "ol", "p", "pre", "s", "samp", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var"}
_MATH_ATTRS = ("display", "mathvariant", "stretchy", "fence", "separator", "accent",
               "accentunder", "lspace", "rspace", "columnalign", "rowalign", "columnspacing",
               "rowspacing", "displaystyle", "scriptlevel", "minsize", "maxsize",
               "movablelimits", "linethickness", "width", "height", "depth", "notation",
               "encoding", "symmetric", "largeop", "form", "xmlns")
_IMAGE_SRC = re.compile(r"^data:image/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=\s]*$")
_LINK = re.compile(r"^(https?://|mailto:|#)", re.I)


def _allowed_attribute(tag, name, value):
    if name in ("class", "id", "title"):
        return True
    if tag == "a":
        return name == "href" and bool(_LINK.match(value))
    if tag == "img":
        return (name == "src" and bool(_IMAGE_SRC.match(value))) or name in ("alt", "width", "height")
    if tag in ("td", "th"):
        return name in ("align", "colspan", "rowspan")
    if tag == "ol":
        return name == "start"
    return tag in MATH_TAGS and name in _MATH_ATTRS


@functools.lru_cache(maxsize=1)
def page_cleaner():
    return bleach.Cleaner(tags=PAGE_TAGS, attributes=_allowed_attribute,
                          protocols={"http", "https", "mailto", "data"},
                          filters=[_DropReservedClasses])


def clean_html(element):
    """The page's ``clean_html`` filter: :data:`PAGE_TAGS` kept, everything else escaped,
    attributes by :func:`_allowed_attribute` (no ``style``, no event handlers, links to the
    web only, images only as data URIs) and never the classes the Mermaid loader looks for."""
    text = element.decode() if isinstance(element, bytes) else str(element)
    return page_cleaner().clean(text)
