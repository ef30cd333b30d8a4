"""Model discovery, answered from a cassette several tests share, and token counting."""

from __future__ import annotations

import anthropic
import pytest

pytestmark = pytest.mark.vcr

MODEL = "claude-3-5-sonnet-20241022"


@pytest.mark.vcr("shared.yaml")
def test_list_models(client: anthropic.Anthropic) -> None:
    ids = [model.id for model in client.models.list()]
    assert MODEL in ids
    assert len(ids) == 6


@pytest.mark.vcr("shared.yaml")
def test_pick_model_then_ask(client: anthropic.Anthropic) -> None:
    newest_sonnet = next(model.id for model in client.models.list() if "sonnet" in model.id)
    message = client.messages.create(
        model=newest_sonnet,
        max_tokens=256,
        messages=[{"role": "user", "content": "Reply with the single word: ready"}],
    )
    assert message.model == MODEL
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text"
    assert message.content[0].text == "ready"


def test_count_tokens(client: anthropic.Anthropic) -> None:
    count = client.messages.count_tokens(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello, Claude"}],
    )
    assert count.input_tokens == 10
