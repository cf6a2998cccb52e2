"""Match a Bash rule's word pattern against a parsed argv.

Two modes, because the evaluator wants the most dangerous reading of what it cannot
know. With ``may=True`` (deny and ask rules) a word whose value is only known at run time
(``$X``, ``$(…)``, a glob) may stand for any run of words, so ``git $CMD origin`` may be
``git push origin``. With ``may=False`` (allow rules) such a word only matches a ``*``
pattern token: an allow rule never allows a value it cannot see.
"""

from __future__ import annotations

import functools
import re

from runner.policy.rules import STAR
from runner.policy.shell import Word


@functools.lru_cache(maxsize=4096)
def _word_regex(token: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(piece) for piece in token.split("*")), re.DOTALL)


def _token_matches(token: str, word: Word) -> bool:
    if "*" not in token:
        return token == word.text
    return _word_regex(token).fullmatch(word.text) is not None


def match_argv(tokens: tuple[str, ...], argv: tuple[Word, ...], *, may: bool) -> bool:
    """Whether ``argv`` matches the pattern ``tokens`` (see the module docstring)."""
    if not tokens:
        return not argv
    last = len(tokens) - 1
    stack = [(0, 0)]
    seen: set[tuple[int, int]] = set()
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        i, j = state
        if i > last:
            if j == len(argv):
                return True
            if may and all(w.dynamic for w in argv[j:]):
                return True  # trailing run-time words may expand to nothing
            continue
        token = tokens[i]
        if token == STAR:
            stack.append((i + 1, j))
            if j < len(argv):
                stack.append((i, j + 1))
            continue
        if j >= len(argv):
            continue
        word = argv[j]
        if word.dynamic:
            if may:  # it may expand to nothing, to this token, or to several tokens
                stack.extend(((i, j + 1), (i + 1, j + 1), (i + 1, j)))
            continue
        if _token_matches(token, word):
            if i == last and token.endswith("*"):
                return True  # `ls*` as the last token also takes the rest of the words
            stack.append((i + 1, j + 1))
    return False
