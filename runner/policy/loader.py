"""Load a policy by shipped name or by path, resolving ``extends`` (no cycles, only tighter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from runner.errors import InvalidInputError, NotFoundError
from runner.policy.build import build_policy
from runner.policy.compiled import Policy
from runner.policy.model import PolicyFile
from runner.policy.tighten import check_tightens

MAX_FILE_BYTES = 1_000_000


def shipped_policies_dir() -> Path:
    """The ``policies/`` directory that ships with Warden (next to the ``runner`` package)."""
    return Path(__file__).resolve().parents[2] / "policies"


def list_policies(policies_dir: Path | None = None) -> list[str]:
    """Names of the policies in ``policies_dir`` (default: the shipped ones), sorted."""
    directory = policies_dir or shipped_policies_dir()
    return sorted(p.stem for p in directory.glob("*.yaml"))


def resolve_reference(
    ref: str | Path, *, policies_dir: Path | None = None, relative_to: Path | None = None
) -> Path:
    """The file a policy reference names: a shipped name (``ci``) or a path.

    Raises:
        NotFoundError: no such policy.
    """
    text = str(ref)
    looks_like_path = isinstance(ref, Path) or "/" in text or text.endswith((".yaml", ".yml"))
    if looks_like_path:
        path = Path(text)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
    else:
        path = (policies_dir or shipped_policies_dir()) / f"{text}.yaml"
    if not path.is_file():
        raise NotFoundError(
            f"no policy {text!r} (looked for {path.name})", details={"policy": text}
        )
    return path


def load_policy(ref: str | Path, *, policies_dir: Path | None = None) -> Policy:
    """Load, validate and resolve a policy and its bases.

    Raises:
        NotFoundError: the policy or a base does not exist.
        InvalidInputError: bad YAML, unknown keys, bad rules, an ``extends`` cycle, or a
            child that loosens its base (naming the file and the field).
    """
    return _load(resolve_reference(ref, policies_dir=policies_dir), policies_dir, chain=())


def _load(path: Path, policies_dir: Path | None, chain: tuple[Path, ...]) -> Policy:
    real = path.resolve()
    if real in chain:
        names = " -> ".join(p.name for p in (*chain, real))
        raise InvalidInputError(f"{path}: extends cycle: {names}", details={"file": str(path)})
    spec = parse_policy_file(path)
    base = None
    if spec.extends:
        base_path = resolve_reference(
            spec.extends, policies_dir=policies_dir, relative_to=path.parent
        )
        base = _load(base_path, policies_dir, (*chain, real))
    policy = build_policy(spec, source=path, base=base)
    if base is not None:
        check_tightens(policy, base, where=str(path))
    return policy


def parse_policy_file(path: Path) -> PolicyFile:
    """Read and validate one file (no ``extends`` resolution).

    Raises:
        InvalidInputError: unreadable, not YAML, duplicate or unknown keys, bad values.
    """
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInputError(
                f"{path}: larger than {MAX_FILE_BYTES} bytes", details={"file": str(path)}
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc}", details={"file": str(path)}) from exc
    return parse_policy_text(text, where=str(path))


def parse_policy_text(text: str, *, where: str) -> PolicyFile:
    """Validate policy YAML given as text; ``where`` names it in errors."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{where}: not valid YAML: {exc}", details={"file": where}) from exc
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"{where}: expected a mapping at the top level", details={"file": where}
        )
    try:
        return PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors() if not _is_union_noise(error)]
        raise InvalidInputError(
            f"{where}: " + "; ".join(problems), details={"file": where, "errors": problems}
        ) from exc


def _is_union_noise(error: Any) -> bool:
    """A rule written as a mapping also fails the plain-string branch: that error says nothing."""
    return bool(error["loc"]) and error["loc"][-1] == "str" and isinstance(error.get("input"), dict)


_UNION_TAGS = {"str", "int", "float", "bool", "RuleSpec", "constrained-str", "constrained-int"}


def _describe(error: Any) -> str:
    location = ""
    for part in error["loc"]:
        if isinstance(part, int):
            location += f"[{part}]"
        elif part not in _UNION_TAGS and "[" not in str(part):
            location += f".{part}" if location else str(part)
    if error["type"] == "extra_forbidden":
        return f"unknown key {location!r}"
    if error["type"] == "missing":
        return f"missing key {location!r}"
    return f"{location}: {error['msg']}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: a second ``deny:`` must not replace the first."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
