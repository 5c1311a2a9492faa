"""book/_ext/bibstyle.py: author-year labels that match the citations, made unique."""

import sys
from pathlib import Path

from pybtex.database import parse_string

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))

import bibstyle  # noqa: E402

BIB = r"""
@article{one, author = {Stein, Charles M.}, title = {A}, year = {1981}}
@article{two, author = {Auffinger, Antonio and Ben Arous, G{\'e}rard}, title = {B}, year = {2013}}
@article{three, author = {Auffinger, A. and Ben Arous, G. and {\v{C}}ern{\'y}, J.}, title = {C}, year = {2013}}
@article{four, author = {{\v{C}}ern{\'y}, J.}, title = {F}, year = {2013}}
@article{dup1, author = {Ge, Rong and Lee, Jason}, title = {D}, year = {2016}}
@article{dup2, author = {Ge, Rong and Lee, Jason}, title = {E}, year = {2016}}
"""


def test_labels_are_author_year_and_unique():
    entries = list(parse_string(BIB, "bibtex").entries.values())
    labels = list(bibstyle.AuthorYearLabels().format_labels(entries))
    assert labels == [
        "Stein, 1981",
        "Auffinger and Ben Arous, 2013",
        "Auffinger et al., 2013",
        "Černý, 2013",
        "Ge and Lee, 2016a",
        "Ge and Lee, 2016b",
    ]


def test_the_book_bibliography_has_unique_labels_and_a_link_for_most_entries():
    bib = Path(__file__).resolve().parents[1] / "book" / "references.bib"
    entries = list(parse_string(bib.read_text(), "bibtex").entries.values())
    labels = list(bibstyle.AuthorYearLabels().format_labels(entries))
    assert len(set(labels)) == len(labels)
    linked = [e for e in entries if {"doi", "eprint", "url"} & set(e.fields)]
    assert len(linked) >= 0.8 * len(entries)
