"""Glued numbers typeset as prose: a minus sign (U+2212) and powers of ten.

myst-nb formats ``{glue:text}`key:.3f``` with Python's ``format``, which writes negative
numbers with an ASCII hyphen ("-0.066") and the ``e`` formats in computer notation
("-2.0e-01"). This Sphinx extension wraps myst-nb's ``format_plain_text`` so that numbers
formatted with a numeric format spec read "−0.066" and "−2.0 × 10⁻¹". Glued strings and
values quoted without a format spec are left as they are.
"""

import re

from myst_nb.core import variables
from myst_nb.ext.glue import roles

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_EXP = re.compile(r"([0-9.]+)[eE]([+-]?)0*([0-9]+)")
_original = variables.format_plain_text


def _power(m):
    sign = "-" if m.group(2) == "-" else ""
    return f"{m.group(1)} × 10{(sign + m.group(3)).translate(_SUP)}"


def prose_number(text):
    """``"-2.0e-01"`` -> ``"−2.0 × 10⁻¹"``; ``"-0.066"`` -> ``"−0.066"``."""
    return _EXP.sub(_power, text).replace("-", "\u2212")


def format_plain_text(text, fmt_spec):
    out = _original(text, fmt_spec)
    if fmt_spec and fmt_spec[-1] in "deEfFgGn%":
        out = prose_number(out)
    return out


def setup(app):
    variables.format_plain_text = format_plain_text
    roles.format_plain_text = format_plain_text
    return {"parallel_read_safe": True, "parallel_write_safe": True}
