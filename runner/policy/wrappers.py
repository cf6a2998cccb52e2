"""Commands that run other commands: wrappers (``timeout``, ``sudo``…) and shells (``sh -c``)."""

from __future__ import annotations

import posixpath

from runner.policy.shell import Word

Argv = tuple[Word, ...]

# Peeled for the allow view: they run the next command unchanged. (option, takes value)
TRANSPARENT: dict[str, tuple[set[str], int]] = {
    "timeout": ({"-s", "--signal", "-k", "--kill-after"}, 1),
    "nice": ({"-n", "--adjustment"}, 0),
    "nohup": (set(), 0),
    "time": (set(), 0),
    "command": (set(), 0),
    "exec": ({"-a"}, 0),
    "builtin": (set(), 0),
    "stdbuf": ({"-i", "-o", "-e", "--input", "--output", "--error"}, 0),
    "ionice": ({"-c", "-n", "-p", "--class", "--classdata"}, 0),
}
WRAPPERS = set(TRANSPARENT) | {
    "sudo", "doas", "env", "xargs", "su", "runuser", "setsid", "chroot", "flock", "nsenter",
    "unshare", "chrt", "taskset", "watch", "strace", "ltrace", "parallel", "fakeroot",
    "proxychains", "proxychains4", "torsocks", "tsocks", "script", "faketime", "firejail",
    "bwrap", "systemd-run", "cgexec", "numactl", "valgrind", "catchsegv", "find", "sg",
    "pkexec", "unbuffer", "entr", "busybox",
}  # fmt: skip
SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "busybox"}


def shell_string(argv: Argv) -> Word | str | None:
    """The script of ``sh -c STR`` / ``eval …``; "stdin"/"dynamic" when it cannot be seen.

    None when ``argv`` is not a shell running a string (``bash script.sh`` runs a file and
    is judged by its own argv).
    """
    name = posixpath.basename(argv[0].text)
    if name == "eval":
        if any(w.dynamic for w in argv[1:]):
            return "dynamic"
        return Word(" ".join(w.text for w in argv[1:]))
    if name not in SHELLS:
        return None
    rest = argv[1:]
    if name == "busybox":
        if not rest or rest[0].dynamic or rest[0].text not in SHELLS:
            return None
        rest = rest[1:]
    index = 0
    while index < len(rest):
        word = rest[index]
        if word.dynamic:
            return "dynamic"
        if word.text in ("-o", "+o", "-O", "+O"):
            index += 2
            continue
        if word.text.startswith("-") and not word.text.startswith("--") and "c" in word.text:
            return rest[index + 1] if index + 1 < len(rest) else "dynamic"
        if not word.text.startswith(("-", "+")):
            return None
        index += 1
    return "stdin"  # `curl … | sh`: the script arrives on stdin


def peel(argv: Argv) -> Argv | None:
    """Strip wrappers that run their command unchanged; None when an option is not understood."""
    while argv and posixpath.basename(argv[0].text) in TRANSPARENT and "/" not in argv[0].text:
        valued, positional = TRANSPARENT[argv[0].text]
        index = 1
        while index < len(argv) and argv[index].text.startswith("-") and argv[index].text != "--":
            if argv[index].dynamic:
                return None
            option = argv[index].text.split("=", 1)[0]
            index += 2 if option in valued and "=" not in argv[index].text else 1
        if index < len(argv) and argv[index].text == "--":
            index += 1
        index += positional
        if index >= len(argv) or any(w.dynamic for w in argv[:index]):
            return None
        argv = argv[index:]
    return argv
