"""The REST API's routers: each parses a request, calls a service, returns a schema."""
