"""The writes of file utilities: cp, mv, install, ln, rm, touch, mkdir, tee, sort, dd, sed…

Each reader takes the full argv (program name first) and returns its
:class:`~runner.policy.effects.Effects`. Option tables list only options that take a
value (see :mod:`runner.policy.options`); GNU spellings, since the sandbox is Debian.
"""

from __future__ import annotations

from runner.policy import sed
from runner.policy.effects import NOTHING, UNKNOWN, Argv, Effects, inside, unknown_write, writes
from runner.policy.options import parse, syntax
from runner.policy.shell import Word

_COPY = syntax(
    "-t", "--target-directory", "-S", "--suffix", "--sparse", "--no-preserve", "-m", "--mode",
    "-o", "--owner", "-g", "--group", "--strip-program",
    optional=("--backup", "--reflink", "--preserve", "--context", "-Z"),
)  # fmt: skip
_RECURSIVE = ("-r", "-R", "-a", "--recursive", "--archive")


def copy_like(argv: Argv) -> Effects:
    """cp/mv/install/ln: the destination, or each source's name inside it.

    What lands beneath a copied directory cannot be listed, so a recursive copy (and
    any mv, which may move a directory) is a write of the whole tree it creates.
    """
    name = argv[0].text.rsplit("/", 1)[-1]
    parsed = parse(argv[1:], _COPY)
    via = name
    if parsed.dynamic:
        return unknown_write(via)
    tree = name == "mv" or parsed.has(*_RECURSIVE)
    operands = list(parsed.operands)
    if name == "install" and parsed.has("-d", "--directory"):
        return writes(operands, via)
    sources_moved = writes(operands, via, tree=True) if name == "mv" else NOTHING
    targets = parsed.values("-t", "--target-directory")
    if targets:
        return sources_moved + writes(
            [inside(t, s) for t in targets for s in operands], via, tree=tree
        )
    if not operands:
        return NOTHING
    if len(operands) == 1:  # ln -s /x: a link named like the source, in the cwd
        return writes([inside(Word("."), operands[0])], via, tree=tree) if name == "ln" else NOTHING
    destination, sources = operands[-1], operands[:-1]
    if name == "mv":
        sources_moved = writes(sources, via, tree=True)
    if parsed.has("-T", "--no-target-directory"):
        return sources_moved + writes([destination], via, tree=tree)
    inner = [inside(destination, source) for source in sources]
    return sources_moved + writes([destination], via) + writes(inner, via, tree=tree)


_REMOVE = syntax(
    "-n", "--iterations", "-s", "--size", "--random-source",  # shred
    optional=("--interactive", "--preserve-root"),
)  # fmt: skip


def remove_like(argv: Argv) -> Effects:
    """rm/rmdir/unlink/shred: every operand; ``rm -r`` the whole tree beneath it."""
    parsed = parse(argv[1:], _REMOVE)
    name = argv[0].text.rsplit("/", 1)[-1]
    if parsed.dynamic:
        return unknown_write(name)
    tree = parsed.has("-r", "-R", "--recursive")
    return writes(parsed.operands, name, tree=tree)


# Programs whose every operand is a file they create or change, with their valued options.
OPERAND_WRITERS = {
    "touch": syntax("-d", "--date", "-r", "--reference", "-t", "--time"),
    "mkdir": syntax("-m", "--mode", optional=("--context", "-Z")),
    "mkfifo": syntax("-m", "--mode", optional=("--context", "-Z")),
    "truncate": syntax("-s", "--size", "-r", "--reference"),
    "tee": syntax(optional=("--output-error",)),
}


def operand_writer(argv: Argv) -> Effects:
    """touch, mkdir, tee…: each operand is written."""
    name = argv[0].text.rsplit("/", 1)[-1]
    parsed = parse(argv[1:], OPERAND_WRITERS[name])
    if parsed.dynamic:
        return unknown_write(name)
    return writes(parsed.operands, name)


_MODE = syntax("--reference", "--from")


def mode_changer(argv: Argv) -> Effects:
    """chmod/chown/chgrp: the files after the mode or owner (``chmod +x .git/hooks/x``)."""
    name = argv[0].text.rsplit("/", 1)[-1]
    words = list(argv[1:])
    modes = [w for w in words if _is_mode(w)] if name == "chmod" else []
    parsed = parse([w for w in words if w not in modes], _MODE)
    if parsed.dynamic:
        return unknown_write(name)
    # The first operand is the mode or owner, unless --reference gives it or it was `-x`.
    first_is_files = parsed.has("--reference") or bool(modes)
    files = parsed.operands if first_is_files else parsed.operands[1:]
    return writes(files, name, tree=parsed.has("-R", "--recursive"))


def _is_mode(word: Word) -> bool:
    """``chmod -x f`` takes ``-x`` as a mode, not an option."""
    text = word.text
    return len(text) > 1 and text[0] in "-+=" and all(c in "ugoarwxXst,+-=" for c in text[1:])


_COMPRESS = syntax("-S", "--suffix", "-b", "-T", "--threads", "-M", "--memlimit")
_TO_STDOUT = ("-c", "--stdout", "--to-stdout", "-t", "--test", "-l", "--list")


def compressor(argv: Argv) -> Effects:
    """gzip/gunzip/xz/bzip2/zstd: each file is replaced by its (de)compressed twin."""
    name = argv[0].text.rsplit("/", 1)[-1]
    parsed = parse(argv[1:], _COMPRESS)
    if parsed.dynamic:
        return unknown_write(name)
    if parsed.has(*_TO_STDOUT):
        return NOTHING
    stripped = [Word(w.text.rsplit(".", 1)[0]) for w in parsed.operands if "." in w.text]
    return writes([*parsed.operands, *stripped], name) + writes(parsed.values("-o"), name)


_SORT = syntax(
    "-o", "--output", "-k", "--key", "-t", "--field-separator", "-S", "--buffer-size",
    "-T", "--temporary-directory", "--compress-program", "--files0-from", "--random-source",
    "--parallel", "--batch-size", optional=("--sort", "--check"),
)  # fmt: skip


def sort(argv: Argv) -> Effects:
    """sort -o FILE writes FILE; --compress-program runs a program."""
    parsed = parse(argv[1:], _SORT)
    if parsed.dynamic:
        return unknown_write("sort")
    runs = Effects(commands=tuple((p,) for p in parsed.values("--compress-program")))
    temps = writes(parsed.values("-T", "--temporary-directory"), "sort -T", tree=True)
    return writes(parsed.values("-o", "--output"), "sort -o") + temps + runs


def dd(argv: Argv) -> Effects:
    """dd of=FILE."""
    if any(w.dynamic for w in argv[1:]):
        return unknown_write("dd")
    outputs = [Word(w.text[3:]) for w in argv[1:] if w.text.startswith("of=")]
    return writes(outputs, "dd of=")


_SED = syntax(
    "-e", "--expression", "-f", "--file", "-l", "--line-length",
    optional=("-i", "--in-place"),
)  # fmt: skip


def sed_command(argv: Argv) -> Effects:
    """sed -i FILE…, and the files a script's ``w`` commands write (and ``e`` runs)."""
    parsed = parse(argv[1:], _SED)
    if parsed.dynamic:
        return unknown_write("sed")
    operands = list(parsed.operands)
    scripts = parsed.values("-e", "--expression")
    if parsed.values("-f", "--file"):
        return unknown_write("sed -f")  # a script in a file: its `w` commands are unseen
    if not scripts and operands:
        scripts = [operands.pop(0)]
    effects = NOTHING
    for script in scripts:
        reading = sed.script_effects(script.text)
        if reading is None:
            return unknown_write("sed script")
        effects += writes([Word(p) for p in reading.writes], "sed w")
        effects += Effects(scripts=tuple(UNKNOWN if c is None else Word(c) for c in reading.runs))
    if parsed.has("-i", "--in-place"):
        effects += writes(operands, "sed -i")
    return effects


def change_dir(argv: Argv) -> Effects:
    """cd/pushd DIR (``~`` without one); ``cd -``, ``pushd +N`` and popd go somewhere unknown."""
    name = argv[0].text.rsplit("/", 1)[-1]
    if name == "popd":
        return Effects(chdir=UNKNOWN)
    operands = [w for w in argv[1:] if w.dynamic or not w.text.startswith("-") or w.text == "-"]
    if not operands:
        return Effects(chdir=Word("~"))
    target = operands[0]
    if target.text == "-" or (name == "pushd" and target.text[:1] in "+-"):
        return Effects(chdir=UNKNOWN)  # the previous directory, or the directory stack
    return Effects(chdir=target)
