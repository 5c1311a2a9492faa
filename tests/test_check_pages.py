"""The browser check fails a deliberately broken page and passes a clean one."""

import check_pages
import pytest

CHROMIUM = check_pages.find_chromium()
pytest.importorskip("playwright")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")

CLEAN = """<!DOCTYPE html><html><body><main>
<p>A clean page with an inline image.</p>
<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7" alt="dot">
<div class="cell_output"><pre>0.125</pre></div>
</main></body></html>"""

BROKEN = """<!DOCTYPE html><html><head>
<script src="https://cdn.example.org/mathjax.js"></script></head><body><main>
<p>Raw math \\(\\Theta\\) and a raw role {glue:text}`alpha`.</p>
<img src="missing.png" alt="missing">
<div class="cell_output"><pre>Traceback (most recent call last):
  File "x.py", line 1</pre></div>
<div class="cell_output"><pre>/home/ci/x.py:3: ConvergenceWarning: did not converge</pre></div>
<div class="cell_output"><pre>Warning: the fit did not converge</pre></div>
<div style="width: 200px"><pre style="overflow: auto">""" + "x" * 400 + """</pre></div>
</main></body></html>"""


def test_clean_page_passes_and_broken_page_fails_on_each_defect(tmp_path):
    (tmp_path / "index.html").write_text(CLEAN)
    (tmp_path / "broken.html").write_text(BROKEN)
    res = check_pages.check_pages(tmp_path, CHROMIUM)
    assert res["index.html"] == {"fail": [], "report": []}
    fails = "\n".join(res["broken.html"]["fail"])
    assert "request leaves the book: https://cdn.example.org/mathjax.js" in fails
    assert "image does not load: missing.png" in fails
    assert "TeX left unrendered" in fails and "\\(\\Theta" in fails
    assert "raw glue role" in fails
    assert fails.count("traceback or warning in an output") == 3
    assert any("wider than the column" in r for r in res["broken.html"]["report"])


def test_main_fails_on_a_broken_book_and_passes_a_clean_one(tmp_path, capsys):
    (tmp_path / "index.html").write_text(CLEAN)
    assert check_pages.main([str(tmp_path)]) == 0
    (tmp_path / "broken.html").write_text(BROKEN)
    assert check_pages.main([str(tmp_path)]) == 1
    assert "FAIL broken.html" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text",
    [r"a glued sentence with $n$ samples", r"the slope of $\propto d^{a}$", r"raw \Theta left"],
)
def test_inline_tex_left_unrendered_fails(tmp_path, text):
    (tmp_path / "page.html").write_text(f"<html><body><main><p>{text}</p></main></body></html>")
    res = check_pages.check_pages(tmp_path, CHROMIUM)
    assert any("TeX left unrendered" in f for f in res["page.html"]["fail"])


def test_prices_and_paths_in_code_are_not_tex(tmp_path):
    page = "<html><body><main><p>Costs 5 dollars.</p><pre>C:\\Users $HOME</pre></main></body></html>"
    (tmp_path / "page.html").write_text(page)
    assert check_pages.check_pages(tmp_path, CHROMIUM)["page.html"]["fail"] == []
