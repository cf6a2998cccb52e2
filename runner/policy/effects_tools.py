"""The writes of the developer tools the shipped policies allow: find, git, pytest, go, cargo, npm.

Each reader takes the full argv (program name first). What the tool runs from the project
(a test, a Makefile recipe, an npm script, a build script) is not seen here: allowing a
test runner allows the project's code (see docs/policies.md).
"""

from __future__ import annotations

import posixpath

from runner.policy.effects import NOTHING, UNKNOWN, Argv, Effects, unknown_write, writes
from runner.policy.options import parse, syntax
from runner.policy.shell import Word

_FIND_VALUE = {
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex",
    "-lname", "-ilname", "-type", "-xtype", "-user", "-group", "-uid", "-gid", "-perm", "-size",
    "-links", "-inum", "-samefile", "-newer", "-anewer", "-cnewer", "-amin", "-atime", "-cmin",
    "-ctime", "-mmin", "-mtime", "-used", "-maxdepth", "-mindepth", "-context", "-fstype",
    "-printf", "-regextype", "-files0-from",
}  # fmt: skip
_FIND_WRITE = {"-fprint": 1, "-fprint0": 1, "-fls": 1, "-fprintf": 2}  # option: words it takes
_FIND_EXEC = {"-exec", "-execdir", "-ok", "-okdir"}


def find(argv: Argv) -> Effects:
    """``-fprint/-fprint0/-fprintf/-fls FILE``, ``-delete`` (each start tree), ``-exec CMD ;``."""
    args = argv[1:]
    index = 0
    while index < len(args) and args[index].text in ("-H", "-L", "-P", "-D", "-O"):
        index += 2 if args[index].text == "-D" else 1
    starts: list[Word] = []
    while index < len(args) and not args[index].text.startswith(("-", "(", "!", ",")):
        starts.append(args[index])
        index += 1
    effects = unknown_write("find") if any(w.dynamic for w in args) else NOTHING
    while index < len(args):
        word = args[index].text
        index += 1
        if word in _FIND_EXEC:
            end = index
            while end < len(args) and args[end].text not in (";", "+"):
                end += 1
            # `{}` is each path found: any file beneath the start points, .git/config too.
            command = tuple(UNKNOWN if "{}" in w.text else w for w in args[index:end])
            effects += Effects(commands=(command,))
            index = end + 1
        elif word in _FIND_WRITE:
            effects += writes(args[index : index + 1], f"find {word}")
            index += _FIND_WRITE[word]
        elif word == "-delete":
            effects += writes(starts or [Word(".")], "find -delete", tree=True)
        elif word in _FIND_VALUE or (word.startswith("-newer") and len(word) == 8):
            index += 1
    return effects


_GIT_GLOBAL = {"-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--super-prefix"}
_DIFF_FAMILY = {
    "diff", "log", "show", "whatchanged", "format-patch", "diff-tree", "diff-index",
    "diff-files", "range-diff", "stash", "archive",
}  # fmt: skip
_DIFF = syntax("--output", "-o", "--output-directory")
_CONFIG_READS = {
    "--get", "--get-all", "--get-regexp", "--get-urlmatch", "--get-color", "--get-colorbool",
    "-l", "--list", "--blob",
}  # fmt: skip
_CONFIG_WRITES = {
    "--unset", "--unset-all", "--add", "--replace-all", "--rename-section", "--remove-section",
    "-e", "--edit",
}  # fmt: skip
_CONFIG = syntax("-f", "--file", "--blob", "--type", "--default", "--comment")


def git(argv: Argv) -> Effects:
    """``--output``, format-patch ``-o``, archive ``-o``, config writes, init/clone/worktree."""
    args = list(argv[1:])
    base: Word | None = None
    while args and args[0].text.startswith("-"):
        word = args.pop(0)
        if word.dynamic:
            return unknown_write("git")
        if word.text == "-C" and args:
            base = _join(base, args.pop(0))
        elif word.text in _GIT_GLOBAL and args:
            args.pop(0)
    if not args:
        return NOTHING
    if any(w.dynamic for w in args):
        return unknown_write("git")
    sub, rest = args[0].text, args[1:]
    if sub in _DIFF_FAMILY:
        parsed = parse(rest, _DIFF)
        short_o = parsed.values("-o")  # archive: a file; format-patch: a directory
        outputs = parsed.values("--output") + (short_o if sub == "archive" else [])
        dirs = parsed.values("--output-directory") + (short_o if sub == "format-patch" else [])
        return writes(outputs, "git --output", base=base) + writes(
            dirs, "git -o", base=base, tree=True
        )
    if sub == "config":
        return _git_config(rest, base)
    if sub == "bundle" and len(rest) > 1 and rest[0].text == "create":
        return writes(rest[1:2], "git bundle", base=base)
    if sub in ("init", "clone", "worktree"):
        return _git_new_repository(sub, rest, base)
    return NOTHING


def _join(base: Word | None, path: Word) -> Word:
    if base is None or path.dynamic or path.text.startswith(("/", "~")):
        return path
    return Word(posixpath.join(base.text, path.text), base.dynamic)


def _git_config(rest: Argv | list[Word], base: Word | None) -> Effects:
    parsed = parse(rest, _CONFIG)
    operands = [w.text for w in parsed.operands]
    if parsed.has(*_CONFIG_READS) or (operands[:1] in (["get"], ["list"])):
        return NOTHING
    is_write = parsed.has(*_CONFIG_WRITES) or len(operands) >= 2
    if not is_write:
        return NOTHING
    via = "git config"
    if parsed.values("-f", "--file"):
        return writes(parsed.values("-f", "--file"), via, base=base)
    if parsed.has("--global"):
        return writes([Word("~/.gitconfig"), Word("~/.config/git/config")], via)
    if parsed.has("--system"):
        return writes([Word("/etc/gitconfig")], via)
    # The repository's config, wherever its root is: the cwd or any directory above it.
    name = "config.worktree" if parsed.has("--worktree") else "config"
    return writes([Word("../" * up + ".git/" + name) for up in range(12)], via, base=base)


_NEW_REPO = syntax("--separate-git-dir", "--template", "-b", "--branch", "-o", "--origin",
                   "-c", "--config", "--depth", "--reference", "-u", "--upload-pack",
                   "--object-format", "--ref-format", "--shallow-since", "--filter",
                   optional=("--shared",))  # fmt: skip


def _git_new_repository(sub: str, rest: list[Word], base: Word | None) -> Effects:
    parsed = parse(rest, _NEW_REPO)
    operands = list(parsed.operands)
    separate = writes(parsed.values("--separate-git-dir"), f"git {sub}", base=base, tree=True)
    if sub == "worktree":
        if operands[:1] and operands[0].text == "add" and len(operands) > 1:
            return writes(operands[1:2], "git worktree add", base=base, tree=True)
        return NOTHING
    if sub == "init":
        target = operands[0].text if operands else "."
        return separate + writes([Word(f"{target}/.git")], "git init", base=base, tree=True)
    if len(operands) >= 2:
        return separate + writes(operands[1:2], "git clone", base=base, tree=True)
    if operands:
        name = posixpath.basename(operands[0].text.rstrip("/")).removesuffix(".git") or "."
        return separate + writes([Word(name)], "git clone", base=base, tree=True)
    return separate


_PYTEST_FILES = ("--junitxml", "--junit-xml", "--result-log", "--resultlog", "--report-log",
                 "--html", "--json-report-file", "--log-file")  # fmt: skip
_PYTEST = syntax(
    *_PYTEST_FILES, "--basetemp", "--cov-report", "-o", "--override-ini", "--rootdir", "-c",
    "--config-file", "-p", "-k", "-m", "--deselect", "--ignore", "--ignore-glob", "--confcutdir",
    abbreviate=False,  # pytest turned argparse's prefix matching off (pytest 6)
)  # fmt: skip
_COV_TREES = {"html", "annotate"}


def pytest(argv: Argv) -> Effects:
    """--junitxml, --basetemp (deleted and recreated), --cov-report=TYPE:PATH, caches, logs."""
    args = argv[1:]
    parsed = parse(args, _PYTEST)
    if parsed.dynamic:
        return unknown_write("pytest")
    effects = writes(parsed.values(*_PYTEST_FILES), "pytest report")
    effects += writes(parsed.values("--basetemp"), "pytest --basetemp", tree=True)
    for report in parsed.values("--cov-report"):
        kind, sep, path = report.text.partition(":")
        if sep and path:
            effects += writes([Word(path)], "pytest --cov-report", tree=kind in _COV_TREES)
    for setting in parsed.values("-o", "--override-ini"):
        key, _, value = setting.text.partition("=")
        if key.strip() in ("cache_dir", "log_file", "junit_logging_file") and value:
            effects += writes([Word(value)], f"pytest -o {key.strip()}", tree=True)
    roots = parsed.values("--rootdir") + [
        Word(posixpath.dirname(c.text) or ".") for c in parsed.values("-c", "--config-file")
    ]
    effects += writes(
        [Word(posixpath.join(r.text, ".pytest_cache")) for r in roots], "pytest cache", tree=True
    )
    for position, word in enumerate(args):  # --debug[=FILE]: argparse takes a following word
        if word.text.startswith("--debug="):
            effects += writes([Word(word.text[8:])], "pytest --debug")
        elif word.text == "--debug" and position + 1 < len(args):
            effects += writes(args[position + 1 : position + 2], "pytest --debug")
    return effects


_GO_FILES = ("-o", "-coverprofile", "-cpuprofile", "-memprofile", "-blockprofile",
             "-mutexprofile", "-trace", "-modfile")  # fmt: skip
_GO_TREES = ("-outputdir", "-pkgdir", "-gocoverdir", "-fuzzcachedir")
_GO = syntax(
    *_GO_FILES, *_GO_TREES, "-C", "-exec", "-toolexec", "-run", "-bench", "-count", "-timeout",
    "-p", "-tags", "-ldflags", "-gcflags", "-asmflags", "-covermode", "-coverpkg", "-cpu",
    "-parallel", "-benchtime", "-mod", "-pgo", "-buildmode", "-compiler", "-gccgoflags",
    "-installsuffix", "-skip", "-shuffle", "-fuzz", "-fuzztime", "-fuzzminimizetime", "-list",
    "-vet", "-overlay", "-memprofilerate", "-blockprofilerate", "-mutexprofilefraction",
    single_dash=True, abbreviate=False,
)  # fmt: skip


def go(argv: Argv) -> Effects:
    """go build/test -o, profiles, -outputdir…, -C; -exec/-toolexec run programs; go env -w."""
    args = tuple(Word(_test_flag(w.text), w.dynamic) for w in argv[1:])
    parsed = parse(args, _GO)
    if parsed.dynamic:
        return unknown_write("go")
    if parsed.operands[:1] and parsed.operands[0].text == "env" and parsed.has("-w", "-u"):
        return writes([Word("~/.config/go/env")], "go env -w")
    bases = parsed.values("-C")
    base = bases[-1] if bases else None
    effects = writes(parsed.values(*_GO_FILES), "go -o", base=base)
    effects += writes(parsed.values(*_GO_TREES), "go output dir", base=base, tree=True)
    if parsed.operands[:1] and parsed.operands[0].text == "install":
        effects += writes([Word("~/go/bin")], "go install", tree=True)
    return effects + Effects(scripts=tuple(parsed.values("-exec", "-toolexec")))


def _test_flag(text: str) -> str:
    """``-test.coverprofile`` (a test binary's own spelling) is ``-coverprofile``."""
    for prefix in ("--test.", "-test."):
        if text.startswith(prefix):
            return "-" + text[len(prefix) :]
    return text


_CARGO_TREES = ("--target-dir", "--artifact-dir", "--out-dir", "--root")
_CARGO = syntax(
    *_CARGO_TREES, "-C", "--config", "--lockfile-path", "--manifest-path", "-p", "--package",
    "-j", "--jobs", "--target", "--features", "-F", "--bin", "--example", "--test", "--bench",
    "--profile", "--message-format", "-Z", "--color", "--exclude",
    abbreviate=False,  # clap, as cargo uses it, takes no prefixes
)  # fmt: skip


def cargo(argv: Argv) -> Effects:
    """--target-dir and friends (whole trees), -C; a --config may set any of them."""
    args = tuple(w for w in argv[1:] if not w.text.startswith("+"))  # `cargo +nightly build`
    parsed = parse(args, _CARGO)
    if parsed.dynamic or parsed.values("--config"):
        return unknown_write("cargo")  # --config can set build.target-dir or a wrapper
    bases = parsed.values("-C")
    base = bases[-1] if bases else None
    effects = writes(parsed.values(*_CARGO_TREES), "cargo output dir", base=base, tree=True)
    effects += writes(parsed.values("--lockfile-path"), "cargo --lockfile-path", base=base)
    subcommand = parsed.operands[0].text if parsed.operands else ""
    if subcommand == "install" and not parsed.values("--root"):
        effects += writes([Word("~/.cargo")], "cargo install", tree=True)
    if subcommand in ("new", "init"):
        effects += writes(parsed.operands[1:2] or [Word(".")], f"cargo {subcommand}", tree=True)
    return effects


_NPM = syntax("--cache", "--logs-dir", "--script-shell", "--prefix", "--userconfig",
              "--globalconfig", "-w", "--workspace", "-L", "--location")  # fmt: skip


def npm(argv: Argv) -> Effects:
    """--cache/--logs-dir (trees), npm config set (an npmrc); --script-shell runs a program."""
    parsed = parse(argv[1:], _NPM)
    if parsed.dynamic:
        return unknown_write("npm")
    effects = writes(parsed.values("--cache", "--logs-dir"), "npm", tree=True)
    shells = parsed.values("--script-shell")
    effects += Effects(commands=tuple((shell,) for shell in shells))
    words = [w.text for w in parsed.operands]
    if words[:1] == ["set"] or (words[:1] == ["config"] and words[1:2] in (["set"], ["delete"])):
        rc = parsed.values("--userconfig") or [Word("~/.npmrc"), Word(".npmrc")]
        effects += writes(rc, "npm config")
    return effects
