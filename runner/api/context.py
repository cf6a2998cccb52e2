"""Where a request finds the services: the state the app's lifespan yielded.

Starlette copies the lifespan's state into every request (``request.state``), so no
router reaches into the app object, and an app serves exactly the services it started.
"""

from __future__ import annotations

from fastapi import Request

from runner.services import Services

#: The key of the services in the lifespan state.
SERVICES = "services"


def get_services(request: Request) -> Services:
    services: Services = getattr(request.state, SERVICES)
    return services
