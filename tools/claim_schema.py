"""Claims: what the book reproduces, read from ``tests/claims.yml``, checked against glued values.

Used by ``tests/claims/test_claims.py`` (the check), ``tests/test_pipeline.py`` (the
schema and the falsifiability of every rule) and ``tools/stage_book.py`` (the
Reproducibility report). A claim is a mapping with the keys

    id            unique name, e.g. ``ch1-linear-path-sum``
    notebook      stem of the notebook in ``notebooks/`` that glues the value
    section       the text of the chapter heading under which the claim is made
                  (the report links there)
    key           the glue key of the measured value
    kind          what the claim is (``KINDS``):
                    paper         a number, shape or inequality the paper or the slide
                                  states; needs ``where`` and ``reference`` (as printed);
                                  ``unverified: true`` where the paper's text could not
                                  be checked (the chapter then says so)
                    theory        a prediction computed in the book from a stated formula;
                                  needs ``reference_key`` (glued), never a typed value
                    prediction    a qualitative prediction stated before the run ("some
                                  start gets stuck", "training at least halves it"),
                                  checked by a typed bound ({min: 1}, {max: 0.5}) whose
                                  reason ``reference`` gives; never dressed as a glued
                                  reference
                    identity      an exact mathematical identity, checked to rounding
                    planted       recovery of a planted ground truth
                    disagreement  a measured difference from the paper: ``where``,
                                  ``reference`` (the paper's number), ``interval_keys``
                                  (glued ends of our interval, which must exclude it)
                                  and ``explained_in`` (the heading of the explanation)
                    setting       an experiment setting glued so that the prose can
                                  quote it; never counted as a result, has no rule
                    reported      a measured value the prose quotes without claiming
                                  anything about it (no rule: nothing was predicted
                                  for it); listed in the report as an unclaimed
                                  measurement, never counted
    claim         what is claimed, in words
    source        the slide, paper, figure or theorem the claim tests
    reference     the paper's or the truth's value in words (or a number)
    reference_key the glued reference value (theory predictions; optional elsewhere)
    se_key        the glued standard error of the measured value (for ``*_se`` rules)
    rule          acceptance rule (see ``describe_rule``)
    fails_if      a value that a plausible failure would produce; the rule must reject it
    failure       one line: what that failure is
    runs          the runs it is checked on: a subset of ``[quick, full]``
    recorded_failure  (optional, counted kinds) ``{runs: [full], reason: ...}``: the
                  claim FAILED its rule, fixed before the run, on these runs, and the
                  failure is kept on record instead of the rule being changed after the
                  fact. On those runs the check passes only while the rule still
                  rejects the measured value (a value that starts to satisfy it fails
                  the check, asking for the record to be re-examined); the report
                  counts the claim as failed and prints the reason.

Rules: ``{max: x}``, ``{min: x}``, ``{min: a, max: b}``, ``{value: v, abs: t}``,
``{value: v, rel: t}``, ``{equals: v}``, and those against the reference
(``reference_key`` when given, else a numeric ``reference``) and the standard error
``se_key``: ``{within_se: k}`` (|ours - ref| <= k se), ``{outside_se: k}``
(|ours - ref| > k se), the one-sided ``{above_se: k}`` (ours - ref > k se) and
``{below_se: k}`` (ref - ours > k se), the one-sided null ``{not_above_se: k}``
(ours - ref <= k se: a prediction of "no gain" that a gain would break, while a
loss does not), ``{at_least_ref: s}`` (ours >= ref - s) and ``{at_most_ref: s}``
(ours <= ref + s).
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
KINDS = ("paper", "theory", "prediction", "identity", "planted", "disagreement", "setting", "reported")
UNCOUNTED = ("setting", "reported")  # quoted by the prose, no rule, never counted
VERDICTS = {
    "paper": "reproduced",
    "theory": "confirmed",
    "prediction": "as predicted",
    "identity": "exact",
    "planted": "recovered",
    "disagreement": "disagrees (explained)",
}
COMMON = ("id", "notebook", "section", "key", "kind", "claim", "runs")
REQUIRED = {
    "paper": ("source", "where", "reference", "rule", "fails_if", "failure"),
    "theory": ("source", "reference_key", "rule", "fails_if", "failure"),
    "prediction": ("source", "reference", "rule", "fails_if", "failure"),
    "identity": ("source", "reference", "rule", "fails_if", "failure"),
    "planted": ("source", "reference", "rule", "fails_if", "failure"),
    "disagreement": (
        "source", "where", "reference", "interval_keys", "explained_in", "rule", "fails_if", "failure"
    ),
    "setting": (),
    "reported": (),
}
OPTIONAL = {"source", "reference", "reference_key", "se_key", "unverified", "where", "rule", "recorded_failure"}
ALLOWED = set(COMMON) | OPTIONAL | {f for fields in REQUIRED.values() for f in fields}
RUNS = ("quick", "full")
REF_RULES = ("within_se", "outside_se", "above_se", "below_se", "not_above_se", "at_least_ref", "at_most_ref")
_PROSE_GLUE = re.compile(r"\{glue(?::text|:md)?\}`([^`:]+)(?::[^`]*)?`")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def load_claims(path=CLAIMS_FILE):
    """Read and validate the claims file; raise ``ValueError`` on a malformed entry."""
    claims = yaml.safe_load(Path(path).read_text())
    if not isinstance(claims, list) or not claims:
        raise ValueError(f"{path}: expected a non-empty list of claims")
    seen = set()
    for i, c in enumerate(claims):
        _validate(c, f"{path}: claim #{i} ({c.get('id') if isinstance(c, dict) else c!r})")
        if c["id"] in seen:
            raise ValueError(f"{path}: claim id {c['id']!r} appears twice")
        seen.add(c["id"])
    return claims


def _validate(c, where):
    if not isinstance(c, dict):
        raise ValueError(f"{where}: expected a mapping")
    missing = [f for f in COMMON if f not in c]
    if missing:
        raise ValueError(f"{where} lacks {missing}")
    if c["kind"] not in KINDS:
        raise ValueError(f"{where} has kind {c['kind']!r}; expected one of {KINDS}")
    missing = [f for f in REQUIRED[c["kind"]] if f not in c]
    if missing:
        raise ValueError(f"{where} of kind {c['kind']!r} lacks {missing}")
    unknown = sorted(set(c) - ALLOWED)
    if unknown:
        raise ValueError(f"{where} has unknown fields {unknown}")
    if not c["runs"] or not set(c["runs"]) <= set(RUNS):
        raise ValueError(f"{where} has runs {c['runs']!r}; expected a subset of {RUNS}")
    if c["kind"] in UNCOUNTED:
        if "recorded_failure" in c:
            raise ValueError(f"{where}: a {c['kind']} has no rule, so it cannot record a failure")
        return
    if "recorded_failure" in c:
        rec = c["recorded_failure"]
        if not isinstance(rec, dict) or set(rec) != {"runs", "reason"}:
            raise ValueError(f"{where}: recorded_failure must be a mapping with exactly runs and reason")
        if not rec["runs"] or not set(rec["runs"]) <= set(c["runs"]):
            raise ValueError(f"{where}: recorded_failure runs {rec['runs']!r} must be a subset of runs {c['runs']!r}")
        if not isinstance(rec["reason"], str) or not rec["reason"].strip():
            raise ValueError(f"{where}: recorded_failure needs a reason in words")
    describe_rule(c["rule"])  # raises on an unknown rule
    if "equals" not in c["rule"] and not all(_is_number(v) for v in c["rule"].values()):
        raise ValueError(f"{where}: rule {c['rule']!r} needs numbers (write 1.0e-12, not 1e-12)")
    if not (_is_number(c["fails_if"]) or isinstance(c["fails_if"], bool)):
        raise ValueError(f"{where}: fails_if must be a number or a boolean, not {c['fails_if']!r}")
    if "equals" in c["rule"]:
        if not (_is_number(c["rule"]["equals"]) or isinstance(c["rule"]["equals"], bool)):
            raise ValueError(f"{where}: equals takes a number or a boolean (glue a count or a flag, not words)")
        if type(c["fails_if"]) is not type(c["rule"]["equals"]):
            raise ValueError(f"{where}: fails_if must have the type of the value it stands for")
    if "reference_key" in c and not uses_reference(c["rule"]):
        raise ValueError(f"{where}: a reference_key must be what the rule compares with (a reference rule)")
    if uses_reference(c["rule"]):
        if "reference_key" not in c and not _is_number(c.get("reference")):
            raise ValueError(f"{where}: rule {c['rule']!r} needs reference_key or a numeric reference")
        if _needs_se(c["rule"]) and "se_key" not in c:
            raise ValueError(f"{where}: rule {c['rule']!r} needs se_key")
    if c["kind"] == "disagreement":
        if not _is_number(c["reference"]):
            raise ValueError(f"{where}: a disagreement's reference is the paper's number")
        if not (isinstance(c["interval_keys"], list) and len(c["interval_keys"]) == 2):
            raise ValueError(f"{where}: interval_keys must be [low_key, high_key]")
    if not str(c["failure"]).strip():
        raise ValueError(f"{where}: failure must say what the failure is")


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _needs_se(rule):
    return bool({"within_se", "outside_se", "above_se", "below_se", "not_above_se"} & set(rule))


def uses_reference(rule):
    """True for rules that compare with the claim's reference (and standard error)."""
    return bool(set(REF_RULES) & set(rule))


def describe_rule(rule):
    """The rule in words, e.g. ``≤ 1e-12``; raise ``ValueError`` if unknown."""
    keys = set(rule) if isinstance(rule, dict) else None
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
    if keys == {"within_se"}:
        return f"within {rule['within_se']:g} SE of the reference"
    if keys == {"outside_se"}:
        return f"more than {rule['outside_se']:g} SE from the reference"
    if keys == {"above_se"}:
        return f"more than {rule['above_se']:g} SE above the reference"
    if keys == {"below_se"}:
        return f"more than {rule['below_se']:g} SE below the reference"
    if keys == {"not_above_se"}:
        return f"at most {rule['not_above_se']:g} SE above the reference"
    if keys == {"at_least_ref"}:
        return _offset("≥", -rule["at_least_ref"])
    if keys == {"at_most_ref"}:
        return _offset("≤", rule["at_most_ref"])
    raise ValueError(f"unknown rule {rule!r}")


def _offset(sign, shift):
    """``≥ reference + 0.05``, ``≤ reference − 1e-06`` or ``≥ reference``."""
    if shift == 0:
        return f"{sign} reference"
    return f"{sign} reference {'+' if shift > 0 else '−'} {abs(shift):g}"


def check_rule(rule, value, reference=None, se=None):
    """True when ``value`` satisfies ``rule``; ``reference``/``se`` serve the reference rules."""
    describe_rule(rule)
    if "equals" in rule:
        return type(value) is type(rule["equals"]) and value == rule["equals"]
    if not _finite(value):
        return False
    if uses_reference(rule):
        if not _finite(reference) or (_needs_se(rule) and not (_finite(se) and se > 0)):
            return False
        gap = value - reference
        if "within_se" in rule:
            return abs(gap) <= rule["within_se"] * se
        if "outside_se" in rule:
            return abs(gap) > rule["outside_se"] * se
        if "above_se" in rule:
            return gap > rule["above_se"] * se
        if "below_se" in rule:
            return -gap > rule["below_se"] * se
        if "not_above_se" in rule:
            return gap <= rule["not_above_se"] * se
        if "at_least_ref" in rule:
            return gap >= -rule["at_least_ref"]
        return gap <= rule["at_most_ref"]
    if "value" in rule:
        tol = rule["abs"] if "abs" in rule else rule["rel"] * abs(rule["value"])
        return abs(value - rule["value"]) <= tol
    return rule.get("min", -math.inf) <= value <= rule.get("max", math.inf)


def _finite(x):
    return _is_number(x) and math.isfinite(x)


def context(claim, glued):
    """The reference and standard error a claim's rule is judged with, from the glued values."""
    reference = glued.get(claim["reference_key"]) if "reference_key" in claim else claim.get("reference")
    se = glued.get(claim["se_key"]) if "se_key" in claim else None
    return reference, se


def check_claim(claim, glued):
    """``(ok, value, why)`` for one claim against the glued values of its notebook."""
    value = glued.get(claim["key"])
    if claim["kind"] in UNCOUNTED:
        return claim["key"] in glued, value, "" if claim["key"] in glued else "not glued"
    if claim["key"] not in glued:
        return False, None, f"{claim['notebook']} glues no value named {claim['key']!r}"
    reference, se = context(claim, glued)
    if not check_rule(claim["rule"], value, reference, se):
        why = f"ours {value!r} does not satisfy {describe_rule(claim['rule'])}"
        return False, value, f"{why} (reference {reference!r}, SE {se!r})"
    if check_rule(claim["rule"], claim["fails_if"], reference, se):
        return False, value, f"the rule accepts its own fails_if value {claim['fails_if']!r}"
    if claim["kind"] == "disagreement":
        low, high = (glued.get(k) for k in claim["interval_keys"])
        if not (_finite(low) and _finite(high) and low <= value <= high):
            return False, value, f"interval [{low!r}, {high!r}] is missing or does not hold ours {value!r}"
        # the interval must exclude what the rule compares with: the paper's value, or the
        # glued boundary (reference_key) when the rule is judged against one
        if low <= reference <= high:
            return False, value, f"our interval [{low:g}, {high:g}] contains the reference {reference:g}"
    return True, value, ""


def recorded(claim, mode):
    """Whether ``claim`` carries a recorded failure for the ``mode`` run."""
    return mode in claim.get("recorded_failure", {}).get("runs", [])


def check_in_run(claim, glued, mode):
    """``(passes, value, why)`` for the check of one claim in the ``mode`` run.

    Like ``check_claim``, except for a failure on record in this run: the check then
    passes while the rule still rejects a measured value, and fails when the value is
    missing or has come to satisfy the rule (the record must then be re-examined).
    """
    ok, value, why = check_claim(claim, glued)
    if not recorded(claim, mode):
        return ok, value, why
    reason = claim["recorded_failure"]["reason"]
    if claim["key"] not in glued:
        return False, value, why
    if ok:
        return False, value, f"the failure on record ({reason}) no longer fails its rule: re-examine the record"
    return True, value, f"failed, on record: {reason} ({why})"


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


def headings(markdown_text):
    """The markdown headings ``(level, title)`` of a MyST notebook, outside code fences."""
    out, fence = [], None
    for line in markdown_text.splitlines():
        m = _FENCE.match(line.strip())
        if m:
            if fence is None:
                fence = m.group(1)[0]
            elif m.group(1)[0] == fence and line.strip() == m.group(1):
                fence = None
            continue
        if fence is None:
            h = _HEADING.match(line)
            if h:
                out.append((len(h.group(1)), h.group(2)))
    return out


def slug(heading):
    """The anchor myst-parser gives a heading: its text and code, GitHub style (no math, no roles)."""
    text = re.sub(r"\$[^$]*\$|\{[\w:-]+\}`[^`]*`", "", heading)
    return re.sub(r"[^\w\u4e00-\u9fff\- ]", "", text.lower().replace(" ", "-"))


def anchors(markdown_text, max_level=3):
    """Heading title -> anchor for the headings that ``myst_heading_anchors`` labels (first wins)."""
    out, used = {}, set()
    for level, title in headings(markdown_text):
        if level > max_level:
            continue
        base = s = slug(title)
        i = 1
        while s in used:
            s, i = f"{base}-{i}", i + 1
        used.add(s)
        out.setdefault(title, s)
    return out


def results(mode, executed_dir, claims=None):
    """Each claim of ``mode`` with the value found and the verdict, for the report."""
    rows, cache = [], {}
    for c in load_claims() if claims is None else claims:
        if mode not in c["runs"]:
            continue
        path = Path(executed_dir) / f"{c['notebook']}.ipynb"
        if path not in cache:
            cache[path] = read_glue(path) if path.exists() else {}
        glued = cache[path]
        ok, value, why = check_claim(c, glued)
        on_record = recorded(c, mode) and check_in_run(c, glued, mode)[0]
        reference, se = context(c, glued)
        interval = [glued.get(k) for k in c.get("interval_keys", [])]
        verdict = c["kind"] if c["kind"] in UNCOUNTED else (VERDICTS[c["kind"]] if ok else "FAIL")
        if on_record:
            verdict, why = "failed (on record)", f"on record: {c['recorded_failure']['reason']} ({why})"
        rows.append({**c, "value": value, "ok": ok, "on_record": on_record, "why": why, "verdict": verdict,
                     "reference_value": reference, "se": se, "interval": interval})
    return rows
