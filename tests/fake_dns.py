"""A resolver for the egress proxy that answers what the test says: the fake at the
process boundary to DNS (``runner.gateway.resolver.Resolver``)."""

from __future__ import annotations


class ScriptedResolver:
    """Answers each name from a list of answers, one per lookup (the last one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self._answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str) -> list[str]:
        self.asked.append(host)
        answers = self._answers.get(host, [[]])
        return answers.pop(0) if len(answers) > 1 else answers[0]
