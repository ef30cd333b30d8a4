"""`--llm-html=PATH` and `llmbudget report --format html`: one self-contained page.

The page is checked as a browser sees it: headless Chromium parses it, and
the charts, bars and escaped test ids are looked for in the DOM it builds.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import chat_record, write_test
from standin import StandIn

from pytest_llmbudget.ledger import Ledger
from pytest_llmbudget.records import CallRecord, Usage
from pytest_llmbudget.report import charts, html
from pytest_llmbudget.summary import RunSummary, build

# Routes the stand-in's chat calls to api.openai.com, so genai-prices prices them.
PUBLIC_HOST = """
from pytest_llmbudget.classify import Classification

def pytest_llmbudget_classify(request):
    if request.url.endswith("/chat/completions"):
        return Classification("openai", "chat", "api.openai.com", "/v1/chat/completions")
"""

NASTY = "<script>document.title='owned'</script>\"><b>bold</b>'"

SUITE = f"""
import openai
import pytest

def ask(model, text="hi"):
    client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0)
    return client.chat.completions.create(
        model=model, messages=[{{"role": "user", "content": text}}])

def test_quota():
    with pytest.raises(openai.RateLimitError):
        ask("gpt-4o-mini")

def test_two_calls():
    ask("gpt-4o-mini", "one")
    ask("gpt-4o", "two")

@pytest.mark.llm_budget(usd=0.0000001)
@pytest.mark.parametrize("text", ["x"], ids=[{NASTY!r}])
def test_nasty(text):
    ask("gpt-4o-mini", text)

def test_unknown():
    ask("gpt-from-the-future")

def test_no_call():
    assert "no" != "call"
"""

QUOTA = {
    "error": {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parents: tuple[Element, ...]
    text: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def inside(self, other: Element) -> bool:
        return any(parent is other for parent in self.parents)


class Dom(HTMLParser):
    """A page's elements, each with its ancestors and its own text."""

    VOID = frozenset({"meta", "link", "br", "hr", "img", "input", "col", "area", "base", "wbr"})

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, tuple(self._open))
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, tuple(self._open)))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text.append(data)

    def all(self, tag: str, cls: str = "", within: Element | None = None) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag
            and (not cls or cls in e.classes)
            and (within is None or e.inside(within))
        ]

    def chart(self, name: str) -> Element:
        [svg] = [e for e in self.all("svg", "chart") if e.attrs.get("data-chart") == name]
        return svg

    def text(self, tag: str) -> list[str]:
        return ["".join(e.text) for e in self.all(tag)]


@pytest.fixture
def run_page(pytester: pytest.Pytester, standin: StandIn) -> tuple[Path, Path]:
    """A run's --llm-html page and --llm-report JSON; its ledger already held older calls."""
    pytester.makeconftest(PUBLIC_HOST)
    write_test(pytester, "test_bot", SUITE)
    ledger = Ledger(pytester.path / ".llmbudget" / "ledger.sqlite", run_id="earlier")
    now = dt.datetime.now(dt.UTC)
    ledger.add(_record("tests/test_old.py::test_old", "0.25"), now - dt.timedelta(days=3))
    ledger.add(_record("tests/test_old.py::test_old", "9"), now - dt.timedelta(days=45))
    ledger.close()
    standin.fail_next(429, QUOTA)  # the run's first call: test_quota's
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llm-html=out/report.html",
        "--llm-report=report.json", "--llm-budget=5",
    )  # fmt: skip
    assert result.ret == 1, "the tiny test budget is a violation"
    return pytester.path / "out" / "report.html", pytester.path / "report.json"


def _record(nodeid: str, cost: str, *, live: bool = True, model: str = "gpt-4o-mini") -> CallRecord:
    return chat_record(
        nodeid, cost, live=live, model=model, usage=Usage(input_tokens=1200, output_tokens=300)
    )


def test_a_runs_page_holds_totals_charts_and_every_problem_escaped(
    run_page: tuple[Path, Path],
) -> None:
    page_path, _ = run_page
    page = page_path.read_text(encoding="utf-8")
    dom = Dom(page)
    cards = {
        "".join(card.text): [
            "".join(e.text) for e in dom.elements if e.inside(card) and e.tag == "div"
        ]
        for card in dom.all("div", "card")
    }
    values = {
        "".join(e.text): "".join(v.text)
        for card in dom.all("div", "card")
        for e in dom.all("div", "k", card)
        for v in dom.all("div", "v", card)
    }
    assert cards, "the totals are cards"
    assert values["Calls"] == "5", "two, one, the refused one, the unknown model's"
    assert "5 live · 0 replayed" in page
    assert values["Budget used"].endswith("%")
    assert "of --llm-budget $5.00" in page

    # charts: every test that cost something has a bar, every model too
    tests_chart = dom.chart("tests")
    labels = ["".join(e.text) for e in dom.all("text", "label", tests_chart)]
    nasty_id = f"test_bot.py::test_nasty[{NASTY}]"
    assert sorted(labels) == sorted(
        ["test_bot.py::test_two_calls", charts.shorten(nasty_id, charts.LABEL_CHARS)]
    ), "too long for its label: cut at the front"
    tooltips = ["".join(e.text) for e in dom.all("title", within=tests_chart)]
    assert any(t.startswith(f"{nasty_id} (failed)") for t in tooltips), "whole in the tooltip"
    assert len(dom.all("rect", "spend", tests_chart)) == 2
    models_chart = dom.chart("models")
    model_labels = {"".join(e.text) for e in dom.all("text", "label", models_chart)}
    assert model_labels == {
        "openai · gpt-4o-mini",
        "openai · gpt-4o",
        "openai · gpt-from-the-future",
    }
    assert len(dom.all("rect", "bar", models_chart)) == 2, "the unknown model cost $0: no bar"

    # the ledger's days: 3 days ago and today, not the call 45 days ago
    days_chart = dom.chart("days")
    assert len(dom.all("g", "col", days_chart)) == html.HISTORY_DAYS
    assert len(dom.all("rect", "bar", days_chart)) == 2
    assert "$0.25" in "".join(dom.text("title")), "the older day's tooltip"

    sections = {"".join(h.text): h for h in dom.all("h2")}
    assert {"Violations", "Quota errors", "Unknown models", "Spend per day"} <= set(sections)
    assert "test_budget" in page
    assert "Quota exhausted at openai" in page
    assert "gpt-from-the-future" in "".join(dom.text("td"))
    rows = dom.all("tr", within=dom.all("table", "tests")[0])
    assert len(rows) == 1 + 4, "a header and the four tests that made calls"

    # one file, nothing to fetch, and test ids shown as typed, never as markup
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import", page)
    assert "http://" not in page
    assert "https://" not in page
    assert "default-src 'none'" in page, "a CSP forbids fetching anything, should a page try"
    assert not dom.all("b"), "no markup from a test id"
    assert not dom.all("script")
    assert nasty_id in dom.text("td"), "shown as typed"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return found


def _browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",  # as root in a container, Chromium refuses to start without it
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_chromium_renders_the_charts(run_page: tuple[Path, Path], tmp_path: Path) -> None:
    page = run_page[0]
    rendered = _browse(page, tmp_path / "profile", "--dump-dom").stdout
    dom = Dom(rendered)
    assert dom.text("title")[0].startswith("LLM budget: $"), "no script ran"
    assert not dom.all("script")
    assert not dom.all("b")
    for name, bars in [("tests", 2), ("models", 2), ("days", 2)]:
        chart = dom.chart(name)
        assert len(dom.all("rect", "bar", chart)) == bars, name
        widths = [float(r.attrs["width"]) for r in dom.all("rect", "bar", chart)]
        assert all(w >= 1 for w in widths), name
    assert any(NASTY in "".join(e.text) for e in dom.all("title", within=dom.chart("tests")))

    shot = tmp_path / "report.png"
    _browse(page, tmp_path / "profile", "--window-size=1200,1600", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert _png_size(data) == (1200, 1600)
    # a blank page of this size compresses to a few kilobytes; text and bars do not
    assert len(data) > 60_000


def test_llmbudget_report_format_html_renders_a_saved_report(run_page: tuple[Path, Path]) -> None:
    page_path, report = run_page
    script = Path(sys.executable).parent / "llmbudget"
    done = subprocess.run(
        [str(script), "report", str(report), "--format", "html"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, "the report holds a violation"
    assert done.stderr == ""
    printed = Dom(done.stdout)
    written = Dom(page_path.read_text(encoding="utf-8"))
    for name in ("tests", "models"):
        assert _svg(done.stdout, name) == _svg(page_path.read_text(encoding="utf-8"), name)
    assert [e.attrs.get("data-chart") for e in printed.all("svg")] == ["tests", "models"]
    assert "Spend per day" not in done.stdout, "a saved report holds no ledger"
    assert f"from {report}" in done.stdout
    assert len(printed.all("tr")) == len(written.all("tr"))


def _svg(page: str, name: str) -> str:
    match = re.search(rf'<svg class="chart" data-chart="{name}".*?</svg>', page, re.S)
    assert match is not None
    return match.group(0)


def test_a_run_without_llm_calls_says_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-html=page.html")
    result.assert_outcomes(passed=1)
    dom = Dom((pytester.path / "page.html").read_text(encoding="utf-8"))
    assert "No LLM call was made in this run." in dom.text("p")
    assert not dom.all("svg")
    ledger = pytester.path / ".llmbudget" / "ledger.sqlite"
    assert f"No live call recorded yet: no ledger at {ledger}." in dom.text("p")
    assert not ledger.parent.exists(), "the page never creates a ledger"


def _suite(tests: int) -> RunSummary:
    records = [
        _record(
            f"tests/integration/test_generated_cases.py::test_case[{i:05d}-<long-parameter-id>]",
            f"0.{i % 97 + 1:04d}",
            live=i % 3 == 0,
        )
        for i in range(tests)
    ]
    violations = [
        {"kind": "test_budget", "nodeid": r.nodeid, "limit": 0.001, "actual": 0.002,
         "message": f"{r.nodeid} cost $0.002, over its budget of $0.001"}
        for r in records
    ]  # fmt: skip
    return build(
        records,
        outcomes={},
        limits={"budget_usd": 1.0},
        violations=violations,
        token_counter="",
    )


def test_ten_thousand_tests_keep_the_page_small(tmp_path: Path) -> None:
    page = html.render(_suite(10_000))
    size = len(page.encode())
    assert size < 3_000_000, f"{size:,} bytes"
    dom = Dom(page)
    assert len(dom.all("rect", "bar", dom.chart("tests"))) <= 2 * html.TOP_TESTS
    assert f"… and {10_000 - html.TOP_TESTS:,} more tests" in page
    [table] = dom.all("table", "tests")
    assert len(dom.all("tr", within=table)) == 1 + 10_000, "the table lists every test"
    assert len(dom.all("li", within=dom.all("ul", "issues")[0])) == html.LISTED
    assert f"… and {10_000 - html.LISTED:,} more violations" in page
    [details] = dom.all("details")
    assert "open" not in details.attrs, "a long table starts folded"
    assert '<div class="v">15.0M</div>' in page, "15,000,000 tokens fit their card"


def test_one_left_out_is_one_more_test() -> None:
    page = html.render(_suite(html.TOP_TESTS + 1))
    assert "… and 1 more test (all are in the table below)" in page
    assert "1 more tests" not in page


def test_a_limit_broken_before_any_call_still_shows() -> None:
    refused = {
        "kind": "daily_budget", "nodeid": "t.py::test_first", "limit": 1.0, "actual": 1.2,
        "message": "live spend $1.20 of the last 24 h reached --llm-daily-budget $1.00",
    }  # fmt: skip
    summary = build([], outcomes={}, limits={}, violations=[refused], token_counter="")
    dom = Dom(html.render(summary))
    assert dom.text("span")[0] == "1 budget violation"
    assert "No LLM call was made in this run." in dom.text("p")
    assert [li.strip() for li in dom.text("li")] == [refused["message"]]


def test_history_fills_idle_days_and_reads_without_creating(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    missing = html.read_history(path)
    assert missing.problem == f"No live call recorded yet: no ledger at {path}."
    assert not path.exists()
    today = dt.datetime.now(dt.UTC)
    ledger = Ledger(path, run_id="r")
    for days_ago, cost in [(0, "0.5"), (0, "0.25"), (6, "1"), (7, "4")]:
        ledger.add(_record("t.py::t", cost), today - dt.timedelta(days=days_ago))
    ledger.close()
    history = html.read_history(path, days=7)
    assert [day for day, _ in history.days] == [
        today.date() - dt.timedelta(days=n) for n in range(6, -1, -1)
    ]
    assert [spend.usd for _, spend in history.days] == [
        Decimal(1),
        *[Decimal(0)] * 5,
        Decimal("0.75"),
    ]
    assert [spend.calls for _, spend in history.days] == [1, 0, 0, 0, 0, 0, 2]
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not SQLite\n" * 50)
    assert "junk.sqlite: not a readable pytest-llmbudget ledger" in html.read_history(junk).problem


def test_axis_steps_are_round() -> None:
    assert charts.nice_step(0.17) == pytest.approx(0.05)
    assert charts.nice_step(3.2) == pytest.approx(1.0)
    assert charts.nice_step(0.0009) == pytest.approx(0.0005)
    assert charts.money_tick(0.15, 0.05) == "$0.15"
    assert charts.money_tick(0.0015, 0.0005) == "$0.0015"
    assert charts.money_tick(1200, 500) == "$1,200.00"


def test_long_test_ids_lose_their_folders_in_charts_only() -> None:
    short = ["tests/test_a.py::test_one", "tests/test_b.py::test_two"]
    assert html.chart_labels(short) == short
    long_id = "tests/very/deep/folder/test_module.py::TestClass::test_" + "x" * 30
    assert html.chart_labels([long_id, short[0]]) == [
        "test_module.py::TestClass::test_" + "x" * 30,
        "test_a.py::test_one",
    ]
    assert charts.shorten("a" * 100, 10) == "…" + "a" * 9
