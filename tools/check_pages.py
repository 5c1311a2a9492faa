"""Read every page of a built book in headless Chromium, as a reader's browser would.

    python tools/check_pages.py _build/html-quick

Each HTML page is loaded from disk with every network request blocked, after MathJax
has typeset it. The check FAILS a page on

- a request that leaves the book (a CDN) or a file of the book that does not load,
- an image that does not load,
- TeX left in the rendered text (delimiters, ``$...$``, a ``\\command``), or a MathJax error,
- a Python traceback or warning text in a cell's output,
- a raw ``{glue`` role,

and REPORTS (without failing) code blocks and display equations wider than the column.
Chromium is Debian's ``chromium`` (``.ci/run`` installs it); where it or playwright is
missing the check says so and is skipped (exit 0), so ``make test`` still runs elsewhere.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")

# Runs in the page after load and typesetting; returns what the Python side judges.
_INSPECT = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const out = {images: [], tex: [], mathErrors: 0, outputs: [], glue: [], wide: []};
  for (const img of document.querySelectorAll("img")) {
    if (!img.complete || img.naturalWidth === 0) out.images.push(img.getAttribute("src"));
  }
  out.mathErrors = document.querySelectorAll("mjx-merror, [data-mjx-error]").length;
  const clone = document.body.cloneNode(true);
  for (const el of clone.querySelectorAll("pre, code, script, style, mjx-container, .highlight, textarea")) {
    el.remove();
  }
  const text = clone.innerText || clone.textContent || "";
  for (const pat of ["\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\frac", "\\mathcal"]) {
    const i = text.indexOf(pat);
    if (i >= 0) out.tex.push(text.slice(Math.max(0, i - 40), i + 40));
  }
  // inline math that MathJax left alone: $...$ around TeX, or a TeX command in plain text
  for (const re of [/\$[^$\s][^$]{0,80}\$/, /\\[A-Za-z]{2,}/]) {
    const m = text.match(re);
    if (m) out.tex.push(text.slice(Math.max(0, m.index - 40), m.index + 40));
  }
  const g = text.indexOf("{glue");
  if (g >= 0) out.glue.push(text.slice(Math.max(0, g - 20), g + 60));
  for (const o of document.querySelectorAll(".cell_output, .output")) {
    const t = o.innerText || o.textContent || "";
    const m = t.match(/Traceback \(most recent call last\)|\b[A-Z][A-Za-z]*(Warning|Error): |(^|\n)\s*Warning: /);
    if (m || o.matches(".stderr") || o.querySelector(".stderr")) out.outputs.push(t.slice(0, 160));
  }
  for (const el of document.querySelectorAll("pre, mjx-container[display='true']")) {
    const box = el.closest(".highlight, .math-wrapper, .MathJax_Display, div") || el;
    if (el.scrollWidth > box.clientWidth + 2) out.wide.push((el.innerText || "").slice(0, 60));
  }
  return out;
}
"""


def find_chromium():
    """The path of a Chromium binary, or None."""
    for name in CHROMIUM:
        path = shutil.which(name)
        if path:
            return path
    return None


def check_pages(html_dir, chromium):
    """``{page: {"fail": [...], "report": [...]}}`` for every page of ``html_dir``."""
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir).resolve()
    pages = sorted(
        p for p in html_dir.rglob("*.html")
        if "_static" not in p.parts and p.name not in SKIP_PAGES and not _is_redirect(p)
    )
    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            for page_path in pages:
                results[str(page_path.relative_to(html_dir))] = _check_one(browser, page_path)
        finally:
            browser.close()
    return results


def _is_redirect(path):
    """A page that only forwards to another (Jupyter Book's root index.html); its target is checked."""
    head = path.read_text(errors="replace")[:2000].lower()
    return 'http-equiv="refresh"' in head and "<main" not in head


def _check_one(browser, page_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    fail, report = [], []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            fail.append(f"request leaves the book: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda req: req.url.startswith("file:") and fail.append(f"failed to load: {req.url}"))
    page.goto(page_path.as_uri(), wait_until="load")
    found = page.evaluate(_INSPECT)
    context.close()
    fail += [f"image does not load: {src}" for src in found["images"]]
    fail += [f"TeX left unrendered: …{t}…" for t in found["tex"]]
    fail += [f"{found['mathErrors']} MathJax error(s)"] if found["mathErrors"] else []
    fail += [f"traceback or warning in an output: {t!r}" for t in found["outputs"]]
    fail += [f"raw glue role: {t!r}" for t in found["glue"]]
    report += [f"wider than the column: {t!r}" for t in found["wide"]]
    return {"fail": fail, "report": report}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    try:
        import playwright  # noqa: F401
    except ImportError:
        chromium = None
    if chromium is None:
        print("browser check SKIPPED: no chromium binary on PATH (apt-get install chromium) or no playwright")
        return 0
    if not (args.html_dir / "index.html").exists():
        print(f"{args.html_dir}: no built book (index.html missing)")
        return 1
    results = check_pages(args.html_dir, chromium)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    n_fail = 0
    for name, res in results.items():
        for line in res["fail"]:
            print(f"FAIL {name}: {line}")
            n_fail += 1
        for line in res["report"]:
            print(f"note {name}: {line}")
    n_wide = sum(len(r["report"]) for r in results.values())
    print(f"browser check: {len(results)} pages, {n_fail} failures, {n_wide} blocks wider than the column")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
