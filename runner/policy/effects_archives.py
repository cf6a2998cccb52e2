"""The writes of archivers, patchers and downloaders: tar, unzip, patch, curl, wget, rsync, script.

An archive or a patch names the files it writes inside itself, so extracting one is a
write of the whole directory it lands in: ``tar -xf x.tar`` in the workspace root may
write ``.git/hooks/post-checkout``.
"""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

from runner.policy.effects import NOTHING, UNKNOWN, Argv, Effects, inside, unknown_write, writes
from runner.policy.options import parse, syntax
from runner.policy.shell import Word

_TAR_RUNS = ("-I", "--use-compress-program", "-F", "--info-script", "--new-volume-script",
             "--to-command", "--rsh-command", "--rmt-command")  # fmt: skip
_TAR = syntax(
    *_TAR_RUNS, "-f", "--file", "-C", "--directory", "-b", "--blocking-factor", "-g",
    "--listed-incremental", "-K", "--starting-file", "-L", "--tape-length", "-N", "--newer",
    "--after-date", "-T", "--files-from", "-X", "--exclude-from", "-V", "--label", "--index-file",
    "--exclude", "--transform", "--xform", "--owner", "--group", "--mode", "--mtime",
    "--strip-components", "-H", "--format", "--suffix", "--volno-file", "--checkpoint-action",
    optional=("--backup", "--checkpoint", "--occurrence"),
)  # fmt: skip
_TAR_WRITES_ARCHIVE = ("-c", "--create", "-r", "--append", "-u", "--update", "-A", "--catenate",
                       "--concatenate", "--delete")  # fmt: skip


def tar(argv: Argv) -> Effects:
    """-f when creating; the -C directory (or the cwd) when extracting; programs it runs."""
    parsed = parse(_old_style(argv[1:]), _TAR)
    if parsed.dynamic:
        return unknown_write("tar")
    effects = Effects(scripts=tuple(parsed.values(*_TAR_RUNS)))
    for action in parsed.values("--checkpoint-action"):
        if action.text.startswith("exec="):
            effects += Effects(scripts=(Word(action.text[5:]),))
    extra = parsed.values("-g", "--listed-incremental", "--index-file", "--volno-file")
    effects += writes(extra, "tar")
    if parsed.has(*_TAR_WRITES_ARCHIVE):
        effects += writes(parsed.values("-f", "--file"), "tar -f")
    if parsed.has("--remove-files"):
        effects += writes(parsed.operands, "tar --remove-files", tree=True)
    if parsed.has("-x", "--extract", "--get") and not parsed.has("-O", "--to-stdout"):
        places = parsed.values("-C", "--directory") or [Word(".")]
        effects += writes(places, "tar -x", tree=True)
    return effects


def _old_style(args: Argv) -> Argv:
    """``tar cf out.tar dir`` is ``tar -c -f out.tar dir``: a bare first word of letters."""
    if not args or args[0].dynamic or args[0].text.startswith("-") or not args[0].text.isalpha():
        return args
    expanded: list[Word] = []
    rest = list(args[1:])
    for letter in args[0].text:
        expanded.append(Word("-" + letter))
        if "-" + letter in _TAR.valued and rest:
            expanded.append(rest.pop(0))
    return (*expanded, *rest)


_UNZIP = syntax("-d", "-x", "-P")


def unzip(argv: Argv) -> Effects:
    """The -d directory, or the cwd, unless it only lists or tests."""
    parsed = parse(argv[1:], _UNZIP)
    if parsed.dynamic:
        return unknown_write("unzip")
    if parsed.has("-l", "-t", "-p", "-c", "-v", "-Z", "-z"):
        return NOTHING
    return writes(parsed.values("-d") or [Word(".")], "unzip", tree=True)


_PATCH = syntax("-d", "--directory", "-o", "--output", "-r", "--reject-file", "-i", "--input",
                "-p", "--strip", "-B", "--prefix", "-Y", "--basename-prefix", "-z", "--suffix",
                "-D", "--ifdef", "-F", "--fuzz", "-V", "--version-control",
                optional=("--backup-if-mismatch",))  # fmt: skip


def patch(argv: Argv) -> Effects:
    """The file named on the command line, or every file the patch names (the whole tree)."""
    parsed = parse(argv[1:], _PATCH)
    if parsed.dynamic:
        return unknown_write("patch")
    dirs = parsed.values("-d", "--directory")
    base = dirs[-1] if dirs else None
    effects = writes(parsed.values("-o", "--output", "-r", "--reject-file"), "patch", base=base)
    if parsed.has("--dry-run"):
        return NOTHING
    if parsed.operands:
        return effects + writes(parsed.operands[:1], "patch", base=base)
    return effects + writes([Word(".")], "patch", base=base, tree=True)


_CURL_FILES = ("-o", "--output", "-D", "--dump-header", "-c", "--cookie-jar", "--trace",
               "--trace-ascii", "--libcurl", "--stderr", "--etag-save", "--hsts",
               "--alt-svc")  # fmt: skip
_CURL = syntax(*_CURL_FILES, "--output-dir", "-d", "--data", "-H", "--header", "-X",
               "--request", "-u", "--user", "-A", "--user-agent", "-e", "--referer", "-T",
               "--upload-file", "-F", "--form", "-x", "--proxy", "-m", "--max-time", "-w",
               "--write-out", "-b", "--cookie", "-K", "--config", "-r", "--range")  # fmt: skip


def curl(argv: Argv) -> Effects:
    """-o FILE and the other file options; -O writes the URL's name in --output-dir."""
    parsed = parse(argv[1:], _CURL)
    if parsed.dynamic or parsed.values("-K", "--config"):
        return unknown_write("curl")  # a config file may hold any option
    effects = writes(parsed.values(*_CURL_FILES), "curl")
    if parsed.has("-O", "--remote-name", "--remote-name-all", "-J"):
        dirs = parsed.values("--output-dir") or [Word(".")]
        names = [_url_name(u) for u in parsed.operands]
        effects += writes([inside(d, n) for d in dirs for n in names], "curl -O")
    return effects


_WGET = syntax("-O", "--output-document", "-o", "--output-file", "-a", "--append-output", "-P",
               "--directory-prefix", "-i", "--input-file", "-e", "--execute", "-t", "--tries",
               "-T", "--timeout", "-U", "--user-agent", "-l", "--level")  # fmt: skip


def wget(argv: Argv) -> Effects:
    """-O/-o/-a files; otherwise the URL's name (or, recursive, a whole tree) in -P DIR."""
    parsed = parse(argv[1:], _WGET)
    if parsed.dynamic or parsed.values("-e", "--execute", "-i", "--input-file"):
        return unknown_write("wget")
    logs = writes(parsed.values("-o", "--output-file", "-a", "--append-output"), "wget")
    documents = parsed.values("-O", "--output-document")
    if documents:
        return logs + writes(documents, "wget -O")
    dirs = parsed.values("-P", "--directory-prefix") or [Word(".")]
    if parsed.has("-r", "--recursive", "-m", "--mirror"):
        return logs + writes(dirs, "wget -r", tree=True)
    names = [_url_name(u) for u in parsed.operands]
    return logs + writes([inside(d, n) for d in dirs for n in names], "wget")


def _url_name(url: Word) -> Word:
    try:
        path = urlsplit(url.text).path
    except ValueError:
        return Word(url.text, dynamic=True)
    return Word(posixpath.basename(path) or "index.html")


_RSYNC = syntax("-e", "--rsh", "--log-file", "--write-batch", "--only-write-batch",
                "--backup-dir", "-T", "--temp-dir", "--partial-dir", "--exclude", "--include",
                "--filter", "-f", "--files-from", "--rsync-path")  # fmt: skip


def rsync(argv: Argv) -> Effects:
    """The local destination (a tree), logs and batches; -e runs a remote shell program."""
    parsed = parse(argv[1:], _RSYNC)
    if parsed.dynamic:
        return unknown_write("rsync")
    effects = Effects(scripts=tuple(parsed.values("-e", "--rsh")))
    files = parsed.values("--log-file", "--write-batch", "--only-write-batch")
    effects += writes(files, "rsync")
    trees = parsed.values("--backup-dir", "-T", "--temp-dir", "--partial-dir")
    effects += writes(trees, "rsync", tree=True)
    if len(parsed.operands) >= 2 and ":" not in parsed.operands[-1].text:
        effects += writes(parsed.operands[-1:], "rsync", tree=True)
    return effects


_SCRIPT = syntax("-c", "--command", "-E", "--echo", "-O", "--log-out", "-I", "--log-in", "-B",
                 "--log-io", "-T", "--log-timing", "-m", "--logging-format",
                 optional=("-t", "--timing"))  # fmt: skip


def script(argv: Argv) -> Effects:
    """``script [FILE]`` records the terminal into FILE (``typescript`` by default)."""
    parsed = parse(argv[1:], _SCRIPT)
    if parsed.dynamic:
        return unknown_write("script")
    logs = parsed.values("-O", "--log-out", "-I", "--log-in", "-B", "--log-io", "-T",
                         "--log-timing", "-t", "--timing")  # fmt: skip
    return writes([*(parsed.operands[:1] or [Word("typescript")]), *logs], "script")


def rg(argv: Argv) -> Effects:
    """rg --pre PROGRAM runs PROGRAM on every file it searches."""
    parsed = parse(argv[1:], syntax("--pre", "-e", "--regexp", "-g", "--glob", "-t", "--type"))
    if parsed.dynamic:
        return Effects(scripts=(UNKNOWN,))  # `$X` may be `--pre=./evil`
    return Effects(commands=tuple((p,) for p in parsed.values("--pre")))
