"""No secret reaches a cassette: headers, query strings, bodies, environment values."""

from __future__ import annotations

import textwrap
from urllib.parse import quote, quote_plus

import pytest
from helpers import write_test
from standin import StandIn

from pytest_llmbudget.recording.scrub import Scrubber, env_secrets

SECRET = "sk-test-abcdefghijklmnop1234"  # the KEY the inner test files send

SCHEMES: dict[str, str] = {
    "openai-bearer": """
        import openai
        def test_call():
            client = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0,
                                   organization="org-secretorg123", project="proj_secretproj123")
            client.chat.completions.create(model="gpt-4o-mini",
                                           messages=[{"role": "user", "content": "hi"}])
    """,
    "anthropic-x-api-key": """
        import anthropic
        def test_call():
            client = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0)
            client.messages.create(model="claude-haiku-4-5", max_tokens=8,
                                   messages=[{"role": "user", "content": "hi"}])
    """,
    "raw-x-api-key": """
        import httpx
        def test_call():
            httpx.post(URL + "/v1/messages", headers={"x-api-key": KEY, "api-key": KEY},
                       json={"model": "claude-haiku-4-5", "max_tokens": 8,
                             "messages": [{"role": "user", "content": "hi"}]})
    """,
    "gemini-x-goog-api-key": """
        from google import genai
        from google.genai import types
        def test_call():
            client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=URL))
            client.models.generate_content(model="gemini-2.0-flash", contents="hi")
    """,
    "query-key": """
        import requests
        def test_call():
            reply = requests.post(
                URL + "/v1beta/models/gemini-2.0-flash:generateContent?alt=json&key=" + KEY,
                json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
            assert reply.status_code == 200
    """,
    "key-echoed-in-body": """
        import httpx
        def test_call():
            reply = httpx.post(URL + "/v1/chat/completions",
                               headers={"Authorization": "Bearer " + KEY, "x-standin-echo-key": "1"},
                               json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
            # Live, the server echoes the key; replayed, the cassette's copy is redacted.
            assert KEY in reply.text or "REDACTED" in reply.text
    """,
    "key-in-request-body": """
        import httpx
        def test_call():
            httpx.post(URL + "/v1/chat/completions",
                       json={"model": "m", "api_key": KEY,
                             "messages": [{"role": "user", "content": "x"}]})
    """,
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_no_secret_in_the_cassette(
    scheme: str, pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_KEY", SECRET)
    write_test(pytester, "test_secret", SCHEMES[scheme])
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_secret" / "test_call.yaml").read_text()
    assert SECRET not in text
    assert "secretorg123" not in text
    assert "secretproj123" not in text
    assert "REDACTED" in text
    standin.reset()
    replay = pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none")
    replay.assert_outcomes(passed=1)
    assert standin.hits == 0, "a redacted recording still matches its request"


def test_env_values_are_redacted_without_any_header(
    pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", "tok-verysecretvalue42")
    write_test(
        pytester,
        "test_env",
        """
        import httpx
        def test_call():
            httpx.post(URL + "/v1/chat/completions", json={
                "model": "m", "messages": [{"role": "user", "content": os.environ["ACME_TOKEN"]}]})
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_env" / "test_call.yaml").read_text()
    assert "verysecretvalue42" not in text


def test_llm_redact_headers_adds_names(pytester: pytest.Pytester, standin: StandIn) -> None:
    pytester.makeini("[pytest]\nllm_redact_headers =\n    x-tenant-id\n")
    write_test(
        pytester,
        "test_extra",
        """
        import httpx
        def test_call():
            httpx.post(URL + "/v1/chat/completions", headers={"x-tenant-id": "tenant-7"},
                       json={"model": "m", "messages": []})
        """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_extra" / "test_call.yaml").read_text()
    assert "tenant-7" not in text


def test_short_env_values_are_not_treated_as_secrets() -> None:
    found = env_secrets({"A_KEY": "short", "B_TOKEN": "long-enough-1", "PATH_SECRET_X": "nope1234"})
    assert found == {"long-enough-1"}


def test_scrubber_redacts_query_parameters_whatever_their_case() -> None:
    scrubber = Scrubber()
    url = "https://h/v1/x?API_KEY=abc123456789&alt=sse&key=zzz987654321"
    secrets = scrubber.secrets_of(url, [])
    assert scrubber.url(url, secrets) == "https://h/v1/x?API_KEY=REDACTED&alt=sse&key=REDACTED"


HIDDEN = "pw-Hidden/val+ue=42"  # not in the environment; / + = change under URL encoding

ELSEWHERE: dict[str, str] = {
    "password-in-the-url-requests": """
        import requests
        def test_call():
            url = URL.replace("://", "://bob:" + HIDDEN_QUOTED + "@") + "/v1/chat/completions"
            requests.post(url, json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    """,
    "password-in-the-url-openai": """
        import openai
        def test_call():
            base = URL.replace("://", "://bob:" + HIDDEN_QUOTED + "@") + "/v1"
            client = openai.OpenAI(base_url=base, api_key="k", max_retries=0)
            client.chat.completions.create(model="gpt-4o-mini",
                                           messages=[{"role": "user", "content": "hi"}])
    """,
    "apikey-and-access-token-parameters": """
        import httpx
        def test_call():
            httpx.post(URL + "/v1/chat/completions",
                       params={"apikey": HIDDEN, "access_token": HIDDEN + "2"},
                       json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    """,
    "env-secret-url-encoded": """
        import requests
        def test_call():
            requests.post(URL + "/v1/chat/completions", params={"q": os.environ["PARTNER_TOKEN"]},
                          json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    """,
}


@pytest.mark.parametrize("case", sorted(ELSEWHERE))
def test_no_credential_from_the_url_in_the_cassette_in_any_spelling(
    case: str, pytester: pytest.Pytester, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTNER_TOKEN", HIDDEN)
    prologue = f"from urllib.parse import quote\nHIDDEN = {HIDDEN!r}\n"
    prologue += "HIDDEN_QUOTED = quote(HIDDEN, safe='')\n"
    write_test(pytester, "test_secret", prologue + textwrap.dedent(ELSEWHERE[case]))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert standin.hits == 1
    text = (pytester.path / "cassettes" / "test_secret" / "test_call.yaml").read_text()
    for spelling in (HIDDEN, quote(HIDDEN, safe=""), quote_plus(HIDDEN), "Hidden"):
        assert spelling not in text, spelling
    assert "REDACTED" in text
    # Still found again on replay: the request key is made of the redacted request.
    pytester.runpytest("-p", "no:cacheprovider", "--llm-record=none").assert_outcomes(passed=1)
    assert standin.hits == 1


def test_a_url_password_is_redacted_however_short() -> None:
    scrubber = Scrubber()
    url = "http://me:pw@h:8080/v1/x?alt=sse"
    assert (
        scrubber.url(url, scrubber.secrets_of(url, [])) == "http://me:REDACTED@h:8080/v1/x?alt=sse"
    )
    plain = "http://h/v1/x?to=a@b"
    assert scrubber.url(plain, scrubber.secrets_of(plain, [])) == plain


def test_a_scrubber_sees_a_secret_set_between_two_identical_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Secrets are remembered per request shape, never past a change of the environment."""
    from pytest_llmbudget.recording.scrub import Scrubber

    scrubber = Scrubber()
    url, headers = (
        "https://api.openai.com/v1/chat/completions",
        [("authorization", "Bearer sk-one-1234567890")],
    )
    monkeypatch.delenv("LATE_SERVICE_KEY", raising=False)
    first = scrubber.secrets_of(url, headers)
    assert "sk-one-1234567890" in first
    assert "late-secret-value-123" not in first
    monkeypatch.setenv("LATE_SERVICE_KEY", "late-secret-value-123")
    assert "late-secret-value-123" in scrubber.secrets_of(url, headers)
    monkeypatch.delenv("LATE_SERVICE_KEY")
    assert "late-secret-value-123" not in scrubber.secrets_of(url, headers)
    other = scrubber.secrets_of(url, [("authorization", "Bearer sk-two-1234567890")])
    assert "sk-two-1234567890" in other
    assert "sk-one-1234567890" not in other
