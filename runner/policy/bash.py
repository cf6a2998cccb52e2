"""What a Bash tool call would run, as the evaluator needs it.

Each simple command becomes a :class:`Part` with two views:

* ``allow_argv`` — the exact argv an allow rule must match. Wrappers that do not change
  what runs (``timeout``, ``nice``, ``nohup``, ``time``…) are peeled off; anything that
  could change it (``sudo``, ``env``, ``xargs``, hijacking variables such as ``PATH=`` or
  ``LD_PRELOAD=``) makes the part allowable only by a bare ``Bash`` rule.
* ``deny_argvs`` — every plausible reading a deny/ask rule is checked against: the literal
  argv, the argv without leading assignments, ``/usr/bin/curl`` read as ``curl``, and every
  suffix of a wrapper's arguments (so ``sudo -u x curl …`` and ``chroot / curl …`` are seen
  as ``curl …``).

``bash -c``/``sh -c``/``eval`` strings are parsed again and their commands become parts of
their own. A part is ``wildcard`` when what it runs cannot be known statically (a
command name built from ``$VAR``, ``$(…)`` or a glob, unparseable syntax, a shell reading
its script from stdin): it then counts as matching every Bash deny and ask rule.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace

from runner.policy.effects import NOTHING, UNKNOWN, Effects, WriteTarget
from runner.policy.programs import effects_of
from runner.policy.shell import ShellSyntaxError, SimpleCommand, Word, split_commands
from runner.policy.wrappers import TRANSPARENT, WRAPPERS, peel, shell_string

MAX_PARTS = 2000  # more simple commands than this is an attack, not a build step
MAX_SUFFIXES = 64  # wrapper readings tried per command; longer argv → wildcard
_MAX_OPTION_WORDS = 8  # leading option words skipped when reading `git -C dir push`
_MAX_SHELL_DEPTH = 8

Argv = tuple[Word, ...]

_RESERVED_SKIP = {"!", "{", "}", "then", "do", "else", "elif", "if", "while", "until", "fi", "done"}
_UNSUPPORTED = {"case", "esac", "function", "select", "coproc"}
# Variables that change which program runs or what it loads: a command prefixed with
# one of these is not the command the allow rule names.
_HIJACK = re.compile(
    r"^(PATH|IFS|ENV|BASH_ENV|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|CDPATH|GLOBIGNORE"
    r"|LD_\w+|DYLD_\w+|PYTHON\w*|NODE_OPTIONS|NODE_PATH|PERL5\w+|PERLLIB|RUBYOPT|RUBYLIB"
    r"|GIT_\w+|NPM_CONFIG_\w+|npm_config_\w+|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|BASH_FUNC_\w+.*"
    # ... and variables that add options to a program (where it writes, what it runs).
    r"|PYTEST_ADDOPTS|PYTEST_PLUGINS|TAR_OPTIONS|GOFLAGS|GOENV|CARGO_\w+|RUSTC_\w*WRAPPER"
    r"|MAKEFLAGS|MFLAGS|COVERAGE_\w+|TMPDIR|XDG_\w+|HOME|CURL_HOME|WGETRC)$"
)
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\+?=")


@dataclass(frozen=True)
class Part:
    """One command the Bash call would run."""

    text: str
    allow_argv: Argv | None  # None: only a bare `Bash` allow rule can allow it
    deny_argvs: tuple[Argv, ...]
    wildcard: bool = False
    needs_allow: bool = True  # False for shell/eval wrappers whose inner parts decide
    write_targets: tuple[WriteTarget, ...] = ()  # redirections and writing options
    why: str = ""
    chdir: Word | None = None  # `cd DIR`: later relative paths may start in DIR


def analyse(command: str) -> tuple[Part, ...]:
    """The parts of ``command``; unparseable input is one wildcard part (fail closed)."""
    return _analyse(command, depth=0)


def _analyse(command: str, depth: int) -> tuple[Part, ...]:
    if depth > _MAX_SHELL_DEPTH:
        return (_wildcard(command, "shell nesting too deep"),)
    try:
        simple = split_commands(command)
    except ShellSyntaxError as exc:
        return (_wildcard(command, f"cannot parse: {exc}"),)
    if len(simple) > MAX_PARTS:
        return (_wildcard(command[:200], f"more than {MAX_PARTS} commands"),)
    parts: list[Part] = []
    for cmd in simple:
        parts.extend(_parts_of(cmd, depth))
    return tuple(parts)


def _wildcard(text: str, why: str) -> Part:
    return Part(text=text, allow_argv=None, deny_argvs=(), wildcard=True, why=why)


def _parts_of(cmd: SimpleCommand, depth: int) -> list[Part]:
    if depth > _MAX_SHELL_DEPTH:
        return [_wildcard(cmd.text, "commands nested too deep")]
    writes = tuple(
        WriteTarget(r.target, "output redirection")
        for r in cmd.redirects
        if _is_write(r.op, r.target)
    )
    words = list(cmd.words)
    while words and not words[0].dynamic and words[0].text in _RESERVED_SKIP:
        words.pop(0)
    if words and not words[0].dynamic and words[0].text in ("for", "in"):
        return []  # a loop header: its words are data; substitutions in it are parts already
    if words and not words[0].dynamic and words[0].text in _UNSUPPORTED:
        return [_wildcard(cmd.text, f"`{words[0].text}` is not supported")]
    assignments: list[Word] = []
    while words and _ASSIGNMENT.match(words[0].text):
        assignments.append(Word(words.pop(0).text))  # its value never names the command
    hijacked = any(_HIJACK.match(a.text.split("=", 1)[0].rstrip("+")) for a in assignments)
    if not words:
        if hijacked:
            return [_wildcard(cmd.text, "assigns a variable that changes what later commands run")]
        return [Part(cmd.text, (), (), needs_allow=False, write_targets=writes)] if writes else []
    argv = tuple(words)
    if argv[0].dynamic:
        return [_wildcard(cmd.text, "the command name is only known at run time")]
    own = _readings((*assignments, *argv)) + _readings(argv)
    inner = shell_string(argv)
    if inner is not None:
        if hijacked or not isinstance(inner, Word) or inner.dynamic:
            return [_wildcard(cmd.text, "the shell runs a script that is only known at run time")]
        wrapper = Part(cmd.text, None, _dedupe(own), needs_allow=False, write_targets=writes)
        return [wrapper, *_analyse(inner.text, depth + 1)]
    name = posixpath.basename(argv[0].text)
    why = "a variable such as PATH= or LD_PRELOAD= changes what runs" if hijacked else ""
    if name not in WRAPPERS:
        allowed_argv = None if hijacked else argv
        part = Part(cmd.text, allowed_argv, _dedupe(own), write_targets=writes, why=why)
        return _with_effects(part, (argv,), depth)
    wrapped = _wrapped_readings(argv, depth)
    if wrapped is None:
        return [_wildcard(cmd.text, "the wrapped command is only known at run time")]
    readings, inner_writes = wrapped
    allowed = None if hijacked else (peel(argv) if name in TRANSPARENT else argv)
    part = Part(cmd.text, allowed, _dedupe(own + readings), write_targets=writes + inner_writes)
    # find runs only its -exec commands (its effects name them); others any suffix.
    ends = range(1, min(len(argv), MAX_SUFFIXES)) if name != "find" else range(0)
    runs = (argv, *(argv[i:] for i in ends))
    if name in ("xargs", "parallel"):  # they add words read from stdin: paths nobody sees
        runs = tuple((*run, UNKNOWN) for run in runs)
    return _with_effects(replace(part, why=why), runs, depth)


def _with_effects(part: Part, runs: tuple[Argv, ...], depth: int) -> list[Part]:
    """The part with what its options write, plus the commands they start as parts of their own.

    ``runs`` are the argvs that may really run: the command and, for a wrapper, every
    suffix of its arguments (``sudo -u x tee F`` may run ``tee F``), so a write option is
    seen however the command is wrapped. Started commands (``find -exec CMD ;``,
    ``tar --to-command=CMD``) must be allowed in their own right.
    """
    effects: Effects = NOTHING
    for argv in dict.fromkeys(runs):
        effects += effects_of(argv)
    started: list[Part] = []
    for script in dict.fromkeys(effects.scripts):
        if script.dynamic:
            started.append(_wildcard(part.text, "it starts a command only known at run time"))
        else:
            started.extend(_analyse(script.text, depth + 1))
    for command in dict.fromkeys(effects.commands):
        if command:
            text = " ".join(word.text for word in command)
            started.extend(_parts_of(SimpleCommand(command, (), text), depth + 1))
    targets = tuple(dict.fromkeys(part.write_targets + effects.writes))
    return [replace(part, write_targets=targets, chdir=effects.chdir), *started]


Wrapped = tuple[tuple[Argv, ...], tuple[WriteTarget, ...]]


def _wrapped_readings(argv: Argv, depth: int) -> Wrapped | None:
    """Every suffix of a wrapper's arguments as a command (sudo -u x curl → curl …), and its writes.

    Over-approximates on purpose: a deny rule should catch the wrapped command however
    the wrapper's options are spelled. None when a reading is only known at run time.
    """
    if len(argv) > MAX_SUFFIXES:
        return None
    starts = list(range(1, len(argv)))
    if posixpath.basename(argv[0].text) == "find":  # only what follows -exec runs
        execs = {"-exec", "-execdir", "-ok", "-okdir"}
        starts = [i + 1 for i, w in enumerate(argv) if w.text in execs and i + 1 < len(argv)]
    out: list[Argv] = []
    inner_writes: list[WriteTarget] = []  # `timeout 5 sh -c 'echo x > F'` writes F too
    for start in starts:
        suffix = argv[start:]
        if suffix[0].dynamic:
            return None
        inner = shell_string(suffix)
        if inner is None:
            out.extend(_readings(suffix))
            continue
        if not isinstance(inner, Word) or inner.dynamic:
            return None
        for part in _analyse(inner.text, depth + 1):
            if part.wildcard:
                return None
            out.extend(part.deny_argvs)
            inner_writes.extend(part.write_targets)
    for word in argv[1:]:  # su -c "…", watch "…", env -S "…", flock -c "…"
        if not word.dynamic and (" " in word.text or ";" in word.text):
            for part in _analyse(word.text, depth + 1):
                if not part.wildcard:
                    out.extend(part.deny_argvs)
                    inner_writes.extend(part.write_targets)
    return tuple(out), tuple(dict.fromkeys(inner_writes))


def _readings(argv: Argv) -> tuple[Argv, ...]:
    """The argv as written, with global options skipped, each also with a bare command name."""
    if not argv:
        return ()
    readings: list[Argv] = []
    for variant in (argv, *_options_skipped(argv)):
        readings.append(variant)
        name = variant[0].text
        if not variant[0].dynamic and "/" in name and posixpath.basename(name):
            readings.append((Word(posixpath.basename(name)), *variant[1:]))
    return tuple(readings)


def _options_skipped(argv: Argv) -> list[Argv]:
    """``git -C dir push`` read as ``git push``: leading options (and maybe their values) dropped.

    Which options take a value is command specific, so every plausible split is a reading.
    """
    out: list[Argv] = []
    index = 1
    while index < min(len(argv), _MAX_OPTION_WORDS + 1):
        word, previous = argv[index], argv[index - 1]
        is_option = word.text.startswith("-") and word.text != "-"
        is_value = index > 1 and previous.text.startswith("-") and "=" not in previous.text
        if not (is_option or is_value) or word.text == "--":
            break
        index += 1
        out.append((argv[0], *argv[index:]))
    return out


def _dedupe(readings: tuple[Argv, ...]) -> tuple[Argv, ...]:
    return tuple(dict.fromkeys(readings))


_WRITE_OPS = {">", ">>", ">|", "&>", "&>>", "<>"}


def _is_write(op: str, target: Word) -> bool:
    if op == ">&":
        return not re.fullmatch(r"\d+-?|-", target.text)
    return op in _WRITE_OPS
