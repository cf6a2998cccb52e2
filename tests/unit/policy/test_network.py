"""The policy's network section: rules, deny wins, extends only tightens, address checks."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.commands.policy import app
from runner.errors import InvalidInputError
from runner.policy import address_refused, judge_egress, lint_policy, load_policy, parse_address

MIRROR = """
version: 1
name: mirror
network:
  allow:
    - {id: pypi-mirror, host: pypi.internal.corp, ports: [443]}
    - {id: corp-any, host: "*.corp.example", ports: [443, 8443]}
    - {id: index-get, host: index.corp.example, ports: [80], methods: [GET], paths: [/simple/]}
    - {id: local, host: 127.0.0.1, ports: [8080]}
  deny:
    - {id: no-secret-host, host: vault.corp.example, ports: [443]}
  max_bytes: 10m
  max_connections_per_minute: 30
"""


def test_no_network_section_allows_nothing(write_policy: Callable[..., Path]) -> None:
    """Without a network section nothing is allowed and the session gets no proxy."""
    policy = load_policy(write_policy("version: 1\nname: bare\n"))
    decision = judge_egress(policy.network, "pypi.org", 443)
    assert not decision.allowed and decision.rule == "network.default"
    assert not policy.network.enabled


def test_exact_and_suffix_hosts(write_policy: Callable[..., Path]) -> None:
    """Exact names, `*.suffix` subdomains (not the apex), ports listed only."""
    rules = load_policy(write_policy(MIRROR)).network
    assert judge_egress(rules, "PyPI.Internal.Corp.", 443).rule == "pypi-mirror"
    assert not judge_egress(rules, "pypi.internal.corp", 80).allowed
    assert judge_egress(rules, "a.b.corp.example", 8443).rule == "corp-any"
    assert not judge_egress(rules, "corp.example", 443).allowed
    assert not judge_egress(rules, "evilcorp.example", 443).allowed


def test_deny_wins(write_policy: Callable[..., Path]) -> None:
    """A deny rule beats an allow rule that matches the same host."""
    decision = judge_egress(load_policy(write_policy(MIRROR)).network, "vault.corp.example", 443)
    assert not decision.allowed and decision.rule == "no-secret-host"


def test_methods_and_paths_only_for_plain_http(write_policy: Callable[..., Path]) -> None:
    """A method/path rule allows matching plain-HTTP requests and never opens a tunnel."""
    rules = load_policy(write_policy(MIRROR)).network
    assert judge_egress(rules, "index.corp.example", 80, "GET", "/simple/x/").allowed
    assert not judge_egress(rules, "index.corp.example", 80, "POST", "/simple/x/").allowed
    assert not judge_egress(rules, "index.corp.example", 80, "GET", "/admin").allowed
    assert not judge_egress(rules, "index.corp.example", 80).allowed  # CONNECT


def test_literal_address_rule_names_its_address(write_policy: Callable[..., Path]) -> None:
    """A rule whose host is an address names it, so the loopback check lets it through."""
    decision = judge_egress(load_policy(write_policy(MIRROR)).network, "127.0.0.1", 8080)
    loopback = ipaddress.ip_address("127.0.0.1")
    assert decision.allowed
    assert address_refused(loopback, decision.named) is None
    assert address_refused(loopback, ()) is not None


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.9", "169.254.1.1", "100.64.0.1", "::1",
     "fe80::1", "fc00::1", "0.0.0.0",  # noqa: S104 - an address to refuse, not a bind
     "224.0.0.1", "::ffff:127.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    """Loopback, private, link-local, shared, multicast and mapped forms need a naming rule."""
    parsed = parse_address(address)
    assert parsed is not None and address_refused(parsed, ()) is not None


def test_metadata_refused_even_when_named() -> None:
    """169.254.169.254 is refused even by a rule that names it."""
    metadata = ipaddress.ip_address("169.254.169.254")
    named = (ipaddress.ip_network("169.254.0.0/16"),)
    assert address_refused(metadata, named) is not None


def test_own_addresses_refused() -> None:
    """A public address of the controller itself is refused."""
    own = ipaddress.ip_address("8.8.8.8")
    assert address_refused(own, (), frozenset({own})) is not None
    assert address_refused(own, ()) is None


def test_extends_may_add_deny_not_allow(write_policy: Callable[..., Path]) -> None:
    """A child may deny more and inherits the base's allows; its own allow is a load error."""
    write_policy(MIRROR, name="mirror")
    child = write_policy(
        "version: 1\nname: child\nextends: mirror.yaml\nnetwork:\n  deny:\n"
        "    - {id: no-pypi, host: pypi.internal.corp, ports: [443]}\n",
        name="child",
    )
    rules = load_policy(child).network
    assert judge_egress(rules, "pypi.internal.corp", 443).rule == "no-pypi"
    assert judge_egress(rules, "x.corp.example", 443).rule == "mirror:corp-any"
    wider = write_policy(
        "version: 1\nname: wider\nextends: mirror.yaml\nnetwork:\n  allow:\n"
        "    - {id: all, host: '*', ports: [443]}\n",
        name="wider",
    )
    with pytest.raises(InvalidInputError, match=r"network\.allow"):
        load_policy(wider)


def test_extends_may_not_raise_budgets(write_policy: Callable[..., Path]) -> None:
    """A child's byte budget above its base's is a load error."""
    write_policy(MIRROR, name="mirror")
    child = write_policy(
        "version: 1\nname: more\nextends: mirror.yaml\nnetwork:\n  max_bytes: 1g\n", name="more"
    )
    with pytest.raises(InvalidInputError, match=r"network\.max_bytes"):
        load_policy(child)


def test_bad_network_rules_are_refused(write_policy: Callable[..., Path]) -> None:
    """A bad address, an unknown key and a deny that injects are load errors."""
    for body in (
        "allow:\n    - {id: a, host: x.corp, ports: [1], addresses: [not-an-ip]}",
        "allow:\n    - {id: a, host: x.corp, ports: [1], bogus: 1}",
        "deny:\n    - {id: a, host: x.corp, ports: [1], inject: {header: A, secret: s}}",
        "allow:\n    - {id: a, host: x.corp, ports: []}",
    ):
        path = write_policy(f"version: 1\nname: bad\nnetwork:\n  {body}\n", name="bad")
        with pytest.raises(InvalidInputError):
            load_policy(path)


def test_explain_answers_network_questions(write_policy: Callable[..., Path]) -> None:
    """`warden policy explain --host H --port P` prints the decision and the rule."""
    path = str(write_policy(MIRROR))
    result = CliRunner().invoke(
        app, ["explain", path, "--host", "pypi.internal.corp", "--port", "443", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["decision"] == "allow" and body["rule"] == "pypi-mirror"
    result = CliRunner().invoke(app, ["explain", path, "--host", "pypi.org", "--port", "443"])
    assert result.exit_code == 0 and result.stdout.startswith("deny by network.default")
    result = CliRunner().invoke(app, ["explain", path])
    assert result.exit_code == 2


def test_lint_warns_about_any_host_and_cleartext_credentials(
    write_policy: Callable[..., Path],
) -> None:
    """`policy check` warns about `*` egress and about a credential injected in clear."""
    path = write_policy(
        "version: 1\nname: open\nnetwork:\n  allow:\n    - {id: all, host: '*', ports: [443]}\n"
        "    - {id: reg, host: r.corp, ports: [80], inject: {header: Authorization, secret: t}}\n"
    )
    kinds = {(f.rule, f.kind) for f in lint_policy(load_policy(path))}
    assert kinds == {("all", "open-egress"), ("reg", "cleartext-credential")}
    assert lint_policy(load_policy(write_policy(MIRROR, name="mirror"))) == ()
