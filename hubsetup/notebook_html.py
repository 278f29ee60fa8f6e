"""Students' notebooks as teachers see them (formgrader, feedback): HTML without scripts.

Every user server shares the hub's origin, so script in a submission that runs in the
teacher's formgrader runs as the teacher: it can mint hub tokens and read the course's
solutions. nbgrader's own templates render markdown cells without nbconvert's sanitizer, and
nbconvert's sanitizer escapes ordinary markup (headings, paragraphs, images, table headers).
These two filters replace the ones those templates call, with a cleaner that keeps what
teaching notebooks use and drops scripts, event handlers, `javascript:` links and frames.
"""

TAGS = {
    "a", "abbr", "acronym", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
}
ATTRIBUTES = {
    "*": ["class", "id", "title", "align"],
    "a": ["href", "title", "rel"],
    "img": ["src", "alt", "title", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align", "scope"],
}
# data: only in images (a base64 plot in a markdown cell); links keep to the web and mail.
PROTOCOLS = {"http", "https", "mailto", "data"}


def _attribute_allowed(tag, name, value):
    if name in ("href", "src") and value.strip().lower().startswith("data:"):
        return tag == "img" and value.strip().lower().startswith("data:image/")
    return name in ATTRIBUTES.get(tag, ()) or name in ATTRIBUTES["*"]


def clean_html(html):
    """HTML with only the markup above; anything else is shown as text, not run."""
    import bleach  # here, not at import: every server loads this module's configure()

    html = html.decode() if isinstance(html, bytes) else str(html)
    return bleach.clean(html, tags=TAGS, attributes=_attribute_allowed, protocols=PROTOCOLS, strip_comments=True)


def markdown_cleaned(html, *args, **kwargs):
    """nbgrader's templates render markdown as `markdown2html | strip_files_prefix`: cleaned here."""
    from nbconvert.filters.strings import strip_files_prefix

    return clean_html(strip_files_prefix(html, *args, **kwargs))


FILTERS = {
    "clean_html": "hubsetup.notebook_html.clean_html",
    "strip_files_prefix": "hubsetup.notebook_html.markdown_cleaned",
}


def configure(c):
    """The HTML exporter's settings, for the formgrader (server config) and for nbgrader's own
    feedback (nbgrader config)."""
    c.HTMLExporter.sanitize_html = True  # outputs go through `clean_html` too
    c.HTMLExporter.filters = dict(FILTERS)
