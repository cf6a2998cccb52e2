"""The policy file format (YAML) as a pydantic model; ``policies/schema.json`` comes from it.

Unknown keys are refused everywhere: a misspelt ``deny:`` must not silently allow.
Sizes are bytes or strings like ``"2g"``/``"512m"``; durations are seconds or ``"90s"``,
``"30m"``, ``"4h"``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from runner.core import WorkspaceMode
from runner.policy.images import check_image_entry

SCHEMA_VERSION = 1

Size = Annotated[
    int
    | Annotated[
        str, StringConstraints(pattern=r"^\s*\d+(\.\d+)?\s*([kKmMgGtT][iI]?[bB]?|[bB])?\s*$")
    ],
    Field(description='Bytes, or a number with a unit: "512m", "2g", "1GiB".'),
]
Duration = Annotated[
    int | Annotated[str, StringConstraints(pattern=r"^\s*\d+\s*[smhd]?\s*$")],
    Field(description='Seconds, or a number with a unit: "90s", "30m", "4h", "1d".'),
]
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
RuntimeName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
    Field(
        description="The container runtime registered with the engine: `runc` (the engine's "
        "default), `runsc` (gVisor), or any name an operator registered."
    ),
]
Effect = Literal["allow", "ask", "deny"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Section):
    """A rule with an explicit id (stable across edits) and a reason shown to the agent."""

    rule: str = Field(description="Claude Code rule syntax, e.g. `Bash(npm test:*)`.")
    id: RuleId | None = None
    reason: str | None = None


RuleEntry = str | RuleSpec


class Tools(_Section):
    allow: list[RuleEntry] | None = None
    ask: list[RuleEntry] | None = None
    deny: list[RuleEntry] | None = None


class Container(_Section):
    images: list[Annotated[str, AfterValidator(check_image_entry)]] | None = Field(
        default=None,
        description=(
            "Allowed images: exact names or globs (`warden-sandbox:*`), or pins of one image"
            " by digest (`sha256:<id>` or `NAME@sha256:<digest>`)."
        ),
    )
    cpus: float | None = Field(default=None, gt=0)
    memory: Size | None = None
    pids: int | None = Field(default=None, gt=0)
    tmpfs: Size | None = Field(default=None, description="Size of the /tmp tmpfs.")
    disk: Size | None = Field(
        default=None,
        description="Everything the agent can write (workspace copy and home), enforced by"
        " the kernel (a per-session ext4 image); a host that cannot enforce it refuses the"
        " session unless WARDEN_DISK_QUOTA_REQUIRED=false.",
    )
    runtime: RuntimeName | None = None
    max_duration: Duration | None = None
    idle_timeout: Duration | None = None
    pool: bool | None = Field(
        default=None,
        description="Whether a session may get a pre-started sandbox from the warm pool"
        " (WARDEN_POOL_*): started before the session, used by it alone, never reused."
        " Off unless a policy turns it on.",
    )
    queue: bool | None = Field(
        default=None,
        description="Whether a start over a session quota may wait in line (when the"
        ' request asks with "queue": true) instead of being refused with 429: it is created'
        " in state queued with its position and started, in order, when a place frees."
        " Off unless a policy turns it on.",
    )


class Workspace(_Section):
    mode: WorkspaceMode | None = Field(
        default=None, description="The mode used when a request names none."
    )
    allowed_modes: list[WorkspaceMode] | None = None
    max_bytes: Size | None = Field(
        default=None,
        description="Most bytes a workspace may hold when copied, extracted or cloned in.",
    )
    max_files: int | None = Field(
        default=None, gt=0, description="Most entries (files, directories, links) it may hold."
    )
    roots: list[Annotated[str, StringConstraints(pattern=r"^/")]] | None = Field(
        default=None,
        description="Host directories a workspace path must be under; narrows the server's"
        " WARDEN_WORKSPACE_ROOTS, never widens them.",
    )
    git_hosts: list[str] | None = Field(
        default=None,
        description='Hosts a git source may be cloned from ("git.example.com",'
        ' "*.example.com", "host:port"); none: no remote git sources.',
    )
    git_submodules: bool | None = Field(
        default=None, description="Clone submodules too (their hosts must be listed)."
    )


class ModelSection(_Section):
    allowed: list[str] | None = Field(
        default=None, description="Allowed model names: exact or globs."
    )
    max_tokens: int | None = Field(
        default=None, gt=0, description="Input + output tokens per session."
    )
    budget_usd: float | None = Field(default=None, ge=0)


class Approvals(_Section):
    roles: list[str] | None = Field(default=None, description="Roles that may approve an `ask`.")
    timeout_seconds: int | None = Field(default=None, gt=0)
    fallback: Literal["allow", "deny"] | None = Field(
        default=None, description="After the timeout."
    )
    ci_fallback: Literal["allow", "deny"] | None = Field(
        default=None, description="For `ask` when nobody can answer (CI runs): applied at once."
    )


HostPattern = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*|\*\.[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.-]*|\[?[0-9A-Fa-f:.]+\]?)$"
    ),
    Field(description="An exact name or address, `*.suffix` (any subdomain), or `*` (any host)."),
]


class Injection(_Section):
    """A header the proxy adds to plain-HTTP requests of a rule, from the controller's secrets."""

    header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]
    secret: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = Field(
        description="A file name in the controller's WARDEN_EGRESS_SECRETS_DIR; its content"
        " (trimmed) is the header's value."
    )


class NetworkRuleSpec(_Section):
    id: RuleId
    host: HostPattern
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(min_length=1)
    methods: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,16}$")]] | None = Field(
        default=None, description="Plain HTTP only: the request methods this rule covers."
    )
    paths: list[Annotated[str, StringConstraints(pattern=r"^/")]] | None = Field(
        default=None, description="Plain HTTP only: path prefixes this rule covers."
    )
    addresses: list[str] | None = Field(
        default=None,
        description="Addresses or networks (`10.1.2.3`, `10.0.0.0/8`) in refused ranges"
        " (loopback, private, link-local, the controller's own) that this rule's host may"
        " resolve to. Metadata addresses are refused whatever a rule says.",
    )
    inject: Injection | None = Field(
        default=None, description="Allow rules only, plain HTTP only: add this header."
    )


class Network(_Section):
    allow: list[NetworkRuleSpec] | None = None
    deny: list[NetworkRuleSpec] | None = None
    max_bytes: Size | None = Field(
        default=None, description="Bytes both ways through the proxy, per session."
    )
    max_connections_per_minute: int | None = Field(default=None, gt=0)


SlashCommand = Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9][A-Za-z0-9_:-]{0,63}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


class InputSection(_Section):
    """What an operator's text may make Claude Code do besides prompting the model."""

    shell_escape: Literal["allow", "deny"] | None = Field(
        default=None,
        description="Text starting with `!` (Claude Code's bash mode, which runs without a"
        " tool call): `deny` (default) refuses it; `allow` judges it as a Bash call by the"
        " tools rules, and only an `allow` decision sends it.",
    )
    slash_commands: list[SlashCommand] | None = Field(
        default=None,
        description="Slash commands an operator may send (`/compact`); any other is refused."
        " Default: /clear, /compact, /context, /cost, /help.",
    )
    mode_change: Literal["restore", "end"] | None = Field(
        default=None,
        description="When the screen shows another permission mode than the session's:"
        " `restore` (default) switches it back (the session ends if that fails), `end`"
        " ends the session. Either way it is audited as `policy.violation`.",
    )


class EnvSection(_Section):
    allowed: list[EnvName] | None = Field(
        default=None,
        description="Environment variable names a session request may set, added to the"
        " defaults (LANG, LANGUAGE, LC_ALL, LC_CTYPE, TZ, CI, NO_COLOR); any other is refused.",
    )


class PolicyTestSpec(_Section):
    name: str | None = None
    tool: str
    input: dict[str, Any]
    expect: Effect
    rule: str | None = Field(default=None, description="The rule id expected to decide.")


class PolicyFile(_Section):
    """A Warden policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Warden policy")

    version: Literal[1] = Field(description="Schema version of this file.")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    extends: str | None = Field(
        default=None, description="A shipped policy name or a path to a base policy."
    )
    container: Container = Field(default_factory=Container)
    workspace: Workspace = Field(default_factory=Workspace)
    model: ModelSection = Field(default_factory=ModelSection)
    tools: Tools = Field(default_factory=Tools)
    approvals: Approvals = Field(default_factory=Approvals)
    network: Network = Field(
        default_factory=Network,
        description="Egress through the session's audited proxy; none: no proxy at all.",
    )
    input: InputSection = Field(default_factory=InputSection)
    env: EnvSection = Field(default_factory=EnvSection)
    tests: list[PolicyTestSpec] = Field(default_factory=list)
