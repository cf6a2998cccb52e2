"""The MCP server: Warden's sessions as tools, resources and prompts for other agents.

Built on the official ``mcp`` SDK (``MCPServer``). The tools speak to a ``Warden`` port
(``runner.mcp.ports``) with two adapters: in the API process, the services themselves
with the request's authenticated actor (``runner.mcp.local``, mounted at ``/mcp`` by
``runner.mcp.http``); for ``warden mcp`` over stdio, a running server's REST API
(``runner.commands.mcp_remote``).
"""
