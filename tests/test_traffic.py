"""Only LLM calls are recorded; other traffic and mocked HTTP pass through untouched."""

from __future__ import annotations

import pytest
from helpers import load_cassette, result_of, write_test
from standin import StandIn

from pytest_llmbudget.classify import classify

ALL_MODES = ["none", "once", "new", "rewrite"]


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        ("https://api.openai.com/v1/models", "openai"),
        ("https://my-resource.openai.azure.com/openai/deployments/x/chat/completions", "azure"),
        ("https://api.anthropic.com/v1/messages", "anthropic"),
        ("https://generativelanguage.googleapis.com/v1beta/models/g:generateContent", "google"),
        ("https://api.deepseek.com/chat/completions", "deepseek"),
        ("https://openrouter.ai/api/v1/chat/completions", "openrouter"),
        ("http://localhost:4000/v1/chat/completions", "openai"),
        ("http://127.0.0.1:11434/api/chat", "ollama"),
        ("http://gateway.internal/anything/v1/messages", "anthropic"),
        ("http://proxy:8080/v1beta/models/x:streamGenerateContent?alt=sse", "google"),
    ],
)
def test_llm_calls_are_recognised(url: str, provider: str) -> None:
    found = classify(url)
    assert found is not None
    assert found.provider == provider


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/api/users",
        "http://127.0.0.1:8000/health",
        "https://api.github.com/repos/x/y",
        "https://example.com/chat/completions/history",
    ],
)
def test_other_traffic_is_not_an_llm_call(url: str) -> None:
    assert classify(url) is None


def test_llm_hosts_adds_hosts() -> None:
    assert classify("https://llm.corp.example/v2/infer", {"llm.corp.example"}) is not None


def test_other_traffic_passes_through_unrecorded_in_none_mode(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    write_test(
        pytester,
        "test_health",
        """
        import httpx, requests
        def test_health():
            assert requests.get(URL + "/health").json() == {"ok": True}
            assert httpx.get(URL + "/health").json() == {"ok": True}
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert standin.hits == 2
    assert not (pytester.path / "cassettes").exists()


def test_llm_hosts_ini_makes_any_request_to_a_host_an_llm_call(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    pytester.makeini("[pytest]\nllm_hosts =\n    127.0.0.1\n")
    write_test(
        pytester,
        "test_custom",
        """
        import requests
        def test_custom():
            assert requests.get(URL + "/health").status_code == 200
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert (pytester.path / "cassettes" / "test_custom" / "test_custom.yaml").exists()


MOCKED: dict[str, str] = {
    "respx": """
        import httpx, respx
        def test_mocked():
            with respx.mock:
                respx.post("https://api.openai.com/v1/chat/completions").respond(
                    json={"mocked": True})
                reply = httpx.post("https://api.openai.com/v1/chat/completions", json={})
            assert reply.json() == {"mocked": True}
    """,
    "pytest-httpx": """
        import httpx
        def test_mocked(httpx_mock):
            httpx_mock.add_response(url="https://api.openai.com/v1/chat/completions",
                                    json={"mocked": True})
            reply = httpx.post("https://api.openai.com/v1/chat/completions", json={})
            assert reply.json() == {"mocked": True}
    """,
    "responses": """
        import requests, responses
        @responses.activate
        def test_mocked():
            responses.post("https://api.openai.com/v1/chat/completions", json={"mocked": True})
            reply = requests.post("https://api.openai.com/v1/chat/completions", json={})
            assert reply.json() == {"mocked": True}
    """,
    "requests-mock": """
        import requests
        def test_mocked(requests_mock):
            requests_mock.post("https://api.openai.com/v1/chat/completions", json={"mocked": True})
            reply = requests.post("https://api.openai.com/v1/chat/completions", json={})
            assert reply.json() == {"mocked": True}
    """,
    "httpx-mock-transport": """
        import httpx
        def test_mocked():
            transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"mocked": True}))
            with httpx.Client(transport=transport) as client:
                reply = client.post("https://api.openai.com/v1/chat/completions", json={})
            assert reply.json() == {"mocked": True}
    """,
    "openai-sdk-over-mock-transport": """
        import httpx2, openai
        def answer(request):
            return httpx2.Response(200, json={
                "id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "mocked"}}]})
        def test_mocked():
            client = openai.OpenAI(api_key="k", max_retries=0,
                                   http_client=httpx2.Client(transport=httpx2.MockTransport(answer)))
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=[])
            assert reply.choices[0].message.content == "mocked"
    """,
}


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("library", sorted(MOCKED))
def test_mocked_http_keeps_working_and_is_not_recorded(
    library: str, mode: str, pytester: pytest.Pytester
) -> None:
    write_test(pytester, "test_mock", MOCKED[library])
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-record={mode}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["LLM budget: no LLM calls"])
    assert not (pytester.path / "cassettes").exists()


THROUGH_PROLOGUE = """
import asyncio, httpx, pytest, requests

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "through"}]}
MOCKED_URL = "https://api.openai.com/v1/chat/completions"

def check(reply, mocked, llm_usage):
    assert mocked.json() == {"mocked": 1}
    assert llm_usage.calls == 1, "the call let through counts; the mocked answer does not"
    save(reply.json()["choices"][0]["message"]["content"])
"""

# Each mocking library's own way of letting a call through to the network.
PASS_THROUGH: dict[str, str] = {
    "respx": """
import respx

async def ask_async():
    async with httpx.AsyncClient() as client:
        return await client.post(URL + "/v1/chat/completions", json=BODY)

def test_through(llm_usage):
    with respx.mock:
        respx.post(URL + "/v1/chat/completions").pass_through()
        respx.post(MOCKED_URL).respond(json={"mocked": 1})
        reply = httpx.post(URL + "/v1/chat/completions", json=BODY)
        mocked = httpx.post(MOCKED_URL, json={})
    check(reply, mocked, llm_usage)
""",
    "respx-async": """
import respx

async def ask():
    async with httpx.AsyncClient() as client:
        return (
            await client.post(URL + "/v1/chat/completions", json=BODY),
            await client.post(MOCKED_URL, json={}),
        )

def test_through(llm_usage):
    with respx.mock:
        respx.post(URL + "/v1/chat/completions").pass_through()
        respx.post(MOCKED_URL).respond(json={"mocked": 1})
        reply, mocked = asyncio.run(ask())
    check(reply, mocked, llm_usage)
""",
    "pytest-httpx": """
# Not every mocked answer is asked for when the call before it is refused.
@pytest.mark.httpx_mock(
    should_mock=lambda request: request.url.host == "api.openai.com",
    assert_all_responses_were_requested=False,
)
def test_through(httpx_mock, llm_usage):
    httpx_mock.add_response(url=MOCKED_URL, json={"mocked": 1})
    reply = httpx.post(URL + "/v1/chat/completions", json=BODY)
    mocked = httpx.post(MOCKED_URL, json={})
    check(reply, mocked, llm_usage)
""",
    "responses": """
import responses

def test_through(llm_usage):
    with responses.RequestsMock() as mock:
        mock.add_passthru(URL)
        mock.post(MOCKED_URL, json={"mocked": 1})
        reply = requests.post(URL + "/v1/chat/completions", json=BODY)
        mocked = requests.post(MOCKED_URL, json={})
    check(reply, mocked, llm_usage)
""",
    "requests-mock": """
def test_through(requests_mock, llm_usage):
    requests_mock.post(URL + "/v1/chat/completions", real_http=True)
    requests_mock.post(MOCKED_URL, json={"mocked": 1})
    reply = requests.post(URL + "/v1/chat/completions", json=BODY)
    mocked = requests.post(MOCKED_URL, json={})
    check(reply, mocked, llm_usage)
""",
}


@pytest.mark.parametrize("library", sorted(PASS_THROUGH))
def test_a_call_a_mock_lets_through_is_refused_recorded_and_replayed_as_any_call(
    library: str, pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESULT_FILE", str(pytester.path / "result.json"))
    write_test(pytester, "test_through", THROUGH_PROLOGUE + PASS_THROUGH[library])
    cassette = pytester.path / "cassettes" / "test_through" / "test_through.yaml"

    # Replay-only with nothing recorded: the pass-through is refused before it leaves.
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CassetteMiss*"])
    assert standin.hits == 0

    # A run limit holds for it too.
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=new", "--llm-max-calls=0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*LLMBudgetExceeded*not sent*", "VIOLATION [[]max_calls[]]*"])
    assert standin.hits == 0

    # Recording: it goes out once, and only it is written (not the mocked answer).
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=new").assert_outcomes(passed=1)
    assert standin.hits == 1
    live = result_of(pytester)
    (interaction,) = load_cassette(cassette)["interactions"]
    assert interaction["request"]["uri"].startswith(standin.url)

    # Replay: the recorded answer comes back up past respx, nothing is sent.
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert standin.hits == 1
    assert result_of(pytester) == live


def test_a_request_made_inside_a_mocked_llm_call_is_not_taken_for_it(
    pytester: pytest.Pytester, standin: StandIn
) -> None:
    """A respx side effect that itself goes to the network: the mocked call stays mocked."""
    write_test(
        pytester,
        "test_nested",
        """
        import httpx, respx

        def answer(request):
            # Another request, let through, while the mocked LLM call is being answered.
            assert httpx.get(URL + "/health").json() == {"ok": True}
            return httpx.Response(200, json={"mocked": 1})

        def test_nested(llm_usage):
            with respx.mock:
                respx.get(URL + "/health").pass_through()
                respx.post("https://api.openai.com/v1/chat/completions").mock(side_effect=answer)
                reply = httpx.post("https://api.openai.com/v1/chat/completions", json={})
            assert reply.json() == {"mocked": 1}
            assert llm_usage.calls == 0
        """,
    )
    for mode in ("none", "new"):
        result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-record={mode}")
        result.assert_outcomes(passed=1)
    assert standin.hits == 2, "the health checks went out"
    assert not (pytester.path / "cassettes").exists()


def test_respx_started_before_the_plugin_keeps_answering(pytester: pytest.Pytester) -> None:
    """A router started at configure time, before httpcore is patched: its answers stay its own."""
    pytester.makeconftest(
        """
        import httpcore, respx

        ROUTER = respx.mock(assert_all_called=False)

        def pytest_configure(config):
            ROUTER.start()
            ROUTER.post("https://api.openai.com/v1/chat/completions").respond(json={"mocked": 1})

        def pytest_unconfigure(config):
            ROUTER.stop()
        """
    )
    write_test(
        pytester,
        "test_early",
        """
        import httpx

        def test_early(llm_usage):
            reply = httpx.post("https://api.openai.com/v1/chat/completions", json={})
            assert reply.json() == {"mocked": 1}
            assert llm_usage.calls == 0
        """,
    )
    for mode in ("none", "new"):
        result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-record={mode}")
        result.assert_outcomes(passed=1)
    assert not (pytester.path / "cassettes").exists()
