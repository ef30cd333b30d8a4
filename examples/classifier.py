"""A ticket classifier on Gemini."""

from __future__ import annotations

from google import genai

LABELS = ("billing", "bug", "question")


def classify(client: genai.Client, ticket: str) -> str:
    reply = client.models.generate_content(
        model="gemini-2.0-flash",
        contents=f"Label this ticket as one of {', '.join(LABELS)}: {ticket}",
    )
    return (reply.text or "").strip()
