"""VCR set-up: cassettes keep JSON bodies readable, and calls match on the model they ask."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
import yaml
from google import genai
from vcr import VCR
from vcr.request import Request


class LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings (streamed answers) as literal blocks."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


LiteralDumper.add_representer(str, _str_presenter)


def _is_json(headers: dict[str, list[str]]) -> bool:
    for name, values in headers.items():
        if name.lower() == "content-type":
            return any(value.startswith("application/json") for value in values)
    return False


class PrettyJSONBodySerializer:
    """The yaml serializer, with JSON bodies stored as mappings under ``parsed_body``.

    A diff of a re-recorded cassette then shows which field changed instead of one
    long changed line.
    """

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        for interaction in cassette_dict["interactions"]:
            for kind, data in interaction.items():
                body = data.get("body")
                if kind == "response" and isinstance(body, dict):
                    body = body.get("string")
                if not isinstance(body, str) or not body or not _is_json(data["headers"]):
                    continue
                try:
                    data["parsed_body"] = json.loads(body)
                except ValueError:
                    continue
                del data["body"]
        return yaml.dump(cassette_dict, Dumper=LiteralDumper, allow_unicode=True, width=120)

    @staticmethod
    def deserialize(cassette_string: str) -> dict[str, Any]:
        cassette_dict: dict[str, Any] = yaml.safe_load(cassette_string)
        for interaction in cassette_dict["interactions"]:
            for kind, data in interaction.items():
                if "parsed_body" in data:
                    body = json.dumps(data.pop("parsed_body"))
                    data["body"] = {"string": body} if kind == "response" else body
        return cassette_dict


# "/v1beta/models/gemini-2.0-flash:generateContent" -> "gemini-2.0-flash:generateContent"
_MODEL_CALL = re.compile(r"/models/(?P<call>[^/]+)$")


def _model_call(path: str) -> str:
    match = _MODEL_CALL.search(path)
    return match.group("call") if match else path


def model_in_path(r1: Request, r2: Request) -> None:
    """The same model and method, whatever API version the SDK puts in front of them."""
    assert _model_call(r1.path) == _model_call(r2.path)


def pytest_recording_configure(config: pytest.Config, vcr: VCR) -> None:
    vcr.register_serializer("yaml", PrettyJSONBodySerializer)
    vcr.register_matcher("model_in_path", model_in_path)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": ["x-goog-api-key"],
        "filter_query_parameters": ["key"],
        "decode_compressed_response": True,
        "match_on": ["method", "host", "model_in_path"],
    }


@pytest.fixture
def client() -> genai.Client:
    return genai.Client(api_key=os.environ.get("GEMINI_API_KEY", "test-gemini-key"))
