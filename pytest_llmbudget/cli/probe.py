"""A pytest plugin that ``llmbudget rerecord`` loads into the pytest runs it starts.

Which cassette a test uses, and what a cassette costs, only pytest can say:
the path depends on markers, ``--llm-cassette-dir`` and the rootdir; the
cost on the ``llm_prices`` overrides and on any ``pytest_llmbudget_price``
hook in the project's conftest.py files. So the command asks pytest itself,
with ``-p pytest_llmbudget.cli.probe``:

* in a ``--collect-only`` run (``--llm-probe-out``): each selected test's
  cassette, the cassettes of the tests the selection left out, and what each
  selected cassette cost when it was recorded;
* at the end of the re-record run (``--llm-probe-price`` too): what the
  named cassettes cost now.

A cassette is priced as its replay would be, through the plugin's usage and
price hooks, at the time each call was recorded; ``pytest_llmbudget_call``
is not told, since no call is made.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

OUT_OPTION = "--llm-probe-out"
PRICE_OPTION = "--llm-probe-price"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmbudget-probe", "llmbudget rerecord's probe")
    group.addoption(
        OUT_OPTION,
        dest="llm_probe_out",
        metavar="PATH",
        help="write the selected tests' cassettes and their recorded cost to PATH (JSON)",
    )
    group.addoption(
        PRICE_OPTION,
        dest="llm_probe_price",
        metavar="PATH",
        help="at the end of the run, price the cassette files listed in PATH (a JSON list)",
    )


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("llm_probe_out")
    if out and not hasattr(config, "workerinput"):
        price = config.getoption("llm_probe_price")
        config.pluginmanager.register(
            Probe(config, Path(out), Path(price) if price else None), "llmbudget-probe"
        )


class _Silent:
    """The plugin's hooks without ``pytest_llmbudget_call``: pricing a cassette is no call."""

    def __init__(self, hook: Any) -> None:
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hook, name)

    @staticmethod
    def pytest_llmbudget_call(record: object) -> None:
        return None


def price_cassette(path: Path, hook: Any) -> dict[str, Any]:
    """What a cassette's calls cost when recorded: calls, USD, unpriced calls, latest date."""
    from pytest_llmbudget.accounting import account
    from pytest_llmbudget.errors import CassetteError
    from pytest_llmbudget.recording.cassette import Cassette, request_body, response_of
    from pytest_llmbudget.recording.recorder import HttpRequest
    from pytest_llmbudget.records import CallRecord

    try:
        cassette = Cassette.load(path)
    except CassetteError as error:
        return {"exists": True, "error": error.problem}
    calls, unpriced, cost, latest = 0, 0, Decimal(0), ""
    silent = _Silent(hook)
    for interaction in cassette:
        request = interaction["request"]
        method, uri = str(request["method"]).upper(), str(request["uri"])
        found = hook.pytest_llmbudget_classify(request=HttpRequest(method, uri, [], b""))
        if found is None:
            continue  # not an LLM call (a pytest-recording cassette may hold others)
        response = response_of(interaction)
        recorded_at = str(interaction.get("recorded_at") or "") or None
        record = CallRecord(
            nodeid="",
            provider=found.provider,
            api=found.api,
            host=found.host,
            endpoint=found.endpoint,
            method=method,
            url=uri,
            live=False,
            status=response.status,
            duration_s=float(interaction.get("duration_s") or 0.0),
            recorded_at=recorded_at,
            cassette=str(path),
            request_body=request_body(request),
            response_body=response.body,
            response_headers=response.headers,
        )
        account(record, silent)
        calls += 1
        cost += record.cost_usd
        unpriced += not record.priced and record.status < 400
        latest = max(latest, recorded_at or "")
    return {
        "exists": cassette.existed,
        "interactions": len(cassette),
        "calls": calls,
        "cost_usd": str(cost),
        "unpriced": unpriced,
        "recorded_at": latest or None,
    }


class Probe:
    """Answers for one run; writes them as JSON to the ``--llm-probe-out`` file."""

    def __init__(self, config: pytest.Config, out: Path, price: Path | None) -> None:
        self._config = config
        self._out = out
        self._price = price
        self._deselected: list[pytest.Item] = []

    def _run(self) -> Any:
        from pytest_llmbudget.plugin import RUN

        return self._config.stash.get(RUN, None)

    def _write(self, document: dict[str, Any]) -> None:
        self._out.write_text(json.dumps(document, indent=1), encoding="utf-8")

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self._deselected.extend(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self._config.option.collectonly:
            return
        from pytest_llmbudget.runstate import cassette_file

        run = self._run()
        if run is None:
            self._write({"error": "the llmbudget plugin is not active (-p no:llmbudget?)"})
            return

        def tests(items: list[pytest.Item]) -> list[dict[str, str]]:
            return [
                {"nodeid": item.nodeid, "cassette": str(cassette_file(item, run.settings))}
                for item in items
            ]

        selected = tests(session.items)
        paths = dict.fromkeys(Path(test["cassette"]) for test in selected)
        self._write(
            {
                "rootdir": str(run.settings.rootdir),
                "record_mode": run.settings.record_mode.value,
                "match_ignore": list(run.settings.match_ignore),
                "tests": selected,
                "left_out": tests(self._deselected),
                "cassettes": {str(path): price_cassette(path, run.hook) for path in paths},
            }
        )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._price is None or self._config.option.collectonly:
            return
        run = self._run()
        if run is None:
            return
        paths = [Path(name) for name in json.loads(self._price.read_text(encoding="utf-8"))]
        self._write({"cassettes": {str(path): price_cassette(path, run.hook) for path in paths}})
