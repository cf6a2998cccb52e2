"""How a trusted OIDC issuer is configured (``WARDEN_AUTH_ISSUERS``, JSON or YAML)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runner.auth.roles import GRANTABLE_ROLES

#: Asymmetric algorithms only. HS* would make the JWKS "public key" a shared secret
#: (the classic RS256→HS256 confusion), and ``none`` means no signature at all.
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def is_loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _require_https(url: str, what: str) -> str:
    # Keys fetched over plain HTTP could be swapped by anyone on the path, and with them
    # every token. Loopback is allowed for local providers and tests.
    scheme = urlsplit(url).scheme
    if scheme == "https" or (scheme == "http" and is_loopback_url(url)):
        return url
    raise ValueError(f"{what} must be an https:// URL (http only on loopback): {url}")


class IssuerConfig(BaseModel):
    """One identity provider whose access tokens Warden accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Compared exactly with the token's ``iss``.
    issuer: str
    #: The API's identifier; the token's ``aud`` must contain it.
    audience: str
    #: Where discovery lives; default ``{issuer}/.well-known/openid-configuration``. Never
    #: derived from the token.
    discovery_url: str | None = None
    #: Skip discovery and fetch keys here.
    jwks_uri: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    jwks_ttl_seconds: float = Field(default=3600.0, gt=0)
    #: An unknown ``kid`` refetches the keys at most this often.
    refresh_interval_seconds: float = Field(default=60.0, ge=0)
    leeway_seconds: int = Field(default=60, ge=0, le=300)
    subject_claim: str = "sub"
    #: Claim paths holding group or role names (dotted for nested claims).
    role_claims: list[str] = Field(default_factory=lambda: ["roles", "groups"])
    #: Claim value → Warden role(s). Values not listed grant nothing (deny by default).
    role_map: dict[str, list[str]] = Field(default_factory=dict)
    #: Claim path naming the tenant (``tid`` on Entra); None puts everyone in ``tenant``.
    tenant_claim: str | None = None
    tenant: str = "default"
    #: The dashboard's OAuth client at this issuer (authorization code + PKCE); issuers
    #: with one are offered on the dashboard's login page (docs/dashboard.md).
    client_id: str | None = None
    #: For a confidential client; a public client (PKCE alone) has none.
    client_secret: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid"])
    #: The name on the login button (default: the issuer URL).
    label: str | None = None

    @field_validator("role_map", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a not in SUPPORTED_ALGORITHMS]
        if bad or not value:
            raise ValueError(
                f"algorithms {bad or value} are not allowed: use asymmetric ones from"
                f" {sorted(SUPPORTED_ALGORITHMS)} (never none or HS*)"
            )
        return value

    @field_validator("role_map")
    @classmethod
    def _known_roles(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for claim_value, roles in value.items():
            unknown = set(roles) - GRANTABLE_ROLES
            if unknown:
                raise ValueError(
                    f"role_map[{claim_value!r}] names unknown roles {sorted(unknown)};"
                    f" known: {sorted(GRANTABLE_ROLES)}"
                )
        return value

    @model_validator(mode="after")
    def _safe_urls(self) -> IssuerConfig:
        _require_https(self.issuer, "issuer")
        _require_https(self.resolved_discovery_url, "discovery_url")
        if self.jwks_uri is not None:
            _require_https(self.jwks_uri, "jwks_uri")
        return self

    @property
    def resolved_discovery_url(self) -> str:
        return self.discovery_url or (self.issuer.rstrip("/") + "/.well-known/openid-configuration")
