"""Authentication and authorisation: OIDC access tokens, API tokens, roles, tenants.

``Authenticator.authenticate(authorization_header) -> Actor`` is the one entry point;
``runner.api.security`` calls it for every ``/v1`` request and checks roles per route.
"""
