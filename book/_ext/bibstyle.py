"""The bibliography's labels in author-year form, matching the citations in the text.

The citations read ``[Choromanska et al., 2015]`` (sphinxcontrib-bibtex's ``author_year``
reference style); pybtex's list styles label entries ``[1]``, ``[2]``, ... This Sphinx
extension registers the pybtex formatting style ``authoryear``: pybtex's ``plain`` entries
(with their doi and arXiv links) labelled "Last, Year", "Last and Other, Year" or
"Last et al., Year", with a, b, ... added where two entries would share a label.
"""

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _last(person):
    """A person's last name as plain text (TeX accents decoded, braces removed)."""
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year(entry):
    """``"Last et al., Year"`` for an entry (the editors where there are no authors)."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last(p) for p in people]
    if not names:
        who = entry.fields.get("key", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """Author-year labels, made unique with a, b, ... in the order of the list."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(PlainStyle):
    """pybtex's ``plain`` entries with author-year labels."""

    default_label_style = AuthorYearLabels


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
