"""A report generator that polls the model until the report "is ready".

It has the bug that empties accounts overnight: it waits for the word
``READY`` but the model says ``ready`` (or anything else), so the loop never
ends, and every turn is a paid call. Nothing in the code stops it; the
plugin's per-test call limit (``--llm-test-max-calls``, 50 by default) does,
at call 51, before it is sent.
"""

from __future__ import annotations

import time

import openai

PROMPT = "Is the quarterly report ready? Answer READY or WAIT."


def wait_for_report(client: openai.OpenAI, poll_every: float = 0.0) -> str:
    while True:
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
        )
        status = reply.choices[0].message.content or ""
        if status == "READY":  # the bug: the model never answers in exactly this form
            return status
        time.sleep(poll_every)
