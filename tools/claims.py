"""Claims: what the book reproduces, read from ``tests/claims.yml``, checked against glued values.

Used by ``tests/claims/test_claims.py`` (the check) and ``tools/stage_book.py``
(the Reproducibility report). A claim is a mapping with the keys

    id        unique name, e.g. ``ch1-linear-path-sum``
    notebook  stem of the notebook in ``notebooks/`` that glues the value
    key       the glue key
    claim     what is claimed, in words
    source    slide / paper, figure or theorem
    paper     the paper's (or slide's) value, in words
    rule      acceptance rule: ``{max: x}``, ``{min: x}``, ``{min: a, max: b}``,
              ``{value: v, abs: t}``, ``{value: v, rel: t}`` or ``{equals: v}``
    runs      the runs it is checked on: a subset of ``[quick, full]``
"""

import ast
import json
import math
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_FILE = ROOT / "tests" / "claims.yml"
GLUE_PREFIX = "application/papermill.record/"
FIELDS = ("id", "notebook", "key", "claim", "source", "paper", "rule", "runs")
RUNS = ("quick", "full")
_PROSE_GLUE = re.compile(r"\{glue(?::text|:md)?\}`([^`:]+)(?::[^`]*)?`")


def load_claims(path=CLAIMS_FILE):
    """Read and validate the claims file; raise ``ValueError`` on a malformed entry."""
    claims = yaml.safe_load(Path(path).read_text())
    if not isinstance(claims, list) or not claims:
        raise ValueError(f"{path}: expected a non-empty list of claims")
    seen = set()
    for i, c in enumerate(claims):
        missing = [f for f in FIELDS if f not in c]
        if missing:
            raise ValueError(f"{path}: claim #{i} ({c.get('id')}) lacks {missing}")
        if c["id"] in seen:
            raise ValueError(f"{path}: claim id {c['id']!r} appears twice")
        seen.add(c["id"])
        if not set(c["runs"]) <= set(RUNS) or not c["runs"]:
            raise ValueError(f"{path}: claim {c['id']!r} has runs {c['runs']!r}; expected a subset of {RUNS}")
        describe_rule(c["rule"])  # raises on an unknown rule
    return claims


def describe_rule(rule):
    """The rule in words, e.g. ``<= 1e-12``; raise ``ValueError`` if unknown."""
    keys = set(rule)
    if keys == {"max"}:
        return f"≤ {rule['max']:g}"
    if keys == {"min"}:
        return f"≥ {rule['min']:g}"
    if keys == {"min", "max"}:
        return f"in [{rule['min']:g}, {rule['max']:g}]"
    if keys == {"value", "abs"}:
        return f"{rule['value']:g} ± {rule['abs']:g}"
    if keys == {"value", "rel"}:
        return f"{rule['value']:g} ± {100 * rule['rel']:g}%"
    if keys == {"equals"}:
        return f"= {rule['equals']!r}"
    raise ValueError(f"unknown rule {rule!r}")


def check_rule(rule, value):
    """True when ``value`` satisfies ``rule`` (see the module docstring)."""
    describe_rule(rule)
    if "equals" in rule:
        return value == rule["equals"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if "value" in rule:
        tol = rule["abs"] if "abs" in rule else rule["rel"] * abs(rule["value"])
        return abs(value - rule["value"]) <= tol
    return rule.get("min", -math.inf) <= value <= rule.get("max", math.inf)


def read_glue(ipynb_path):
    """The plain values glued in an executed notebook, as a dict key -> Python value.

    Values glued with ``myst_nb.glue`` are stored as ``text/plain`` reprs under the
    papermill record mime prefix; those that are Python literals are returned.
    """
    nb = json.loads(Path(ipynb_path).read_text())
    values = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            text = out.get("data", {}).get(GLUE_PREFIX + "text/plain")
            if name is None or text is None:
                continue
            text = "".join(text) if isinstance(text, list) else text
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[name] = text
    return values


def prose_glue_keys(markdown_text):
    """Keys that a MyST notebook quotes in its prose with ``{glue:text}`` and friends."""
    return set(_PROSE_GLUE.findall(markdown_text))


def results(mode, executed_dir):
    """Each claim of ``mode`` with the value found and the verdict, for the report."""
    rows, cache = [], {}
    for c in load_claims():
        if mode not in c["runs"]:
            continue
        path = Path(executed_dir) / f"{c['notebook']}.ipynb"
        if path not in cache:
            cache[path] = read_glue(path) if path.exists() else None
        glued = cache[path]
        value = None if glued is None else glued.get(c["key"])
        ok = value is not None and check_rule(c["rule"], value)
        rows.append({**c, "value": value, "ok": ok})
    return rows
