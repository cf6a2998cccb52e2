"""The scripted model over real HTTP: directives, streaming, tool results, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.gateway.sse import SseParser
from runner.scripted.script import load_script
from runner.scripted.server import ScriptedModelServer

TOOLS = [{"name": "Bash"}, {"name": "Write"}]
ENV_BLOCK = {
    "role": "system",
    "content": "# Environment\n - Primary working directory: /work/app\n",
}


@pytest.fixture()
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


def ask(url: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """POST a streaming request and assemble the message from its SSE events."""
    body = {"model": "claude-test", "stream": True, "tools": TOOLS, "messages": messages, **extra}
    parser = SseParser()
    events = []
    with httpx.stream("POST", f"{url}/v1/messages?beta=true", json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_bytes():
            events += parser.feed(chunk)
    return assemble([(e.name, e.json()) for e in events])


def assemble(events: list[tuple[str, dict[str, Any] | None]]) -> dict[str, Any]:
    """Rebuild a message from stream events the way an SDK does."""
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    message = dict(events[0][1]["message"])  # type: ignore[index]
    blocks: list[dict[str, Any]] = []
    partial: dict[int, str] = {}
    for name, data in events[1:]:
        assert data is not None and data["type"] == name
        if name == "content_block_start":
            blocks.append(dict(data["content_block"]))
        elif name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                blocks[data["index"]]["text"] += delta["text"]
            else:
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif name == "message_delta":
            message["stop_reason"] = data["delta"]["stop_reason"]
            message["usage"]["output_tokens"] = data["usage"]["output_tokens"]
    for index, raw in partial.items():
        blocks[index]["input"] = json.loads(raw)
    message["content"] = blocks
    return message


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def test_plain_prompt_gets_text_reply_quoting_it(model: ScriptedModelServer) -> None:
    """A prompt without directives is answered with text that quotes it, ending the turn."""
    message = ask(model.url, [user("hello there")])
    assert message["stop_reason"] == "end_turn"
    assert message["content"] == [{"type": "text", "text": "Scripted reply to: hello there"}]
    assert message["usage"]["input_tokens"] > 0 and message["usage"]["output_tokens"] > 0


def test_system_reminders_are_not_part_of_the_prompt(model: ScriptedModelServer) -> None:
    """Claude Code's <system-reminder> blocks are ignored when reading the prompt."""
    prompt = {"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>\n[[error: 500]]\n</system-reminder>"},
        {"type": "text", "text": "just this"},
    ]}  # fmt: skip
    message = ask(model.url, [prompt, ENV_BLOCK])
    assert message["content"][0]["text"] == "Scripted reply to: just this"


def test_bash_directive_becomes_tool_use(model: ScriptedModelServer) -> None:
    """[[bash: CMD]] streams a Bash tool_use whose input JSON is CMD (pipes included)."""
    message = ask(model.url, [user("run [[bash: ls -la | head -3]]"), ENV_BLOCK])
    assert message["stop_reason"] == "tool_use"
    (block,) = message["content"]
    assert block["type"] == "tool_use" and block["name"] == "Bash"
    assert block["id"].startswith("toolu_")
    assert block["input"]["command"] == "ls -la | head -3"


def test_write_and_edit_paths_resolve_against_cwd(model: ScriptedModelServer) -> None:
    """Relative Write/Edit paths become absolute under the request's working directory."""
    write = ask(model.url, [user("[[write: src/a.py | x = 1\\ny = 2]]"), ENV_BLOCK])
    assert write["content"][0]["input"] == {
        "file_path": "/work/app/src/a.py",
        "content": "x = 1\ny = 2",
    }
    edit = ask(model.url, [user("[[edit: /abs/b.py | old => new]]"), ENV_BLOCK])
    assert edit["content"][0]["input"] == {
        "file_path": "/abs/b.py", "old_string": "old", "new_string": "new",
    }  # fmt: skip


def test_ask_directive_matches_claude_code_schema(model: ScriptedModelServer) -> None:
    """[[ask: Q | A | B]] produces AskUserQuestion input with questions/options/multiSelect."""
    message = ask(model.url, [user("[[ask: Pick one? | Red | Blue]]")])
    (question,) = message["content"][0]["input"]["questions"]
    assert question["question"] == "Pick one?" and question["multiSelect"] is False
    assert [o["label"] for o in question["options"]] == ["Red", "Blue"]
    assert all(o["description"] for o in question["options"]) and question["header"]


def test_tool_result_is_quoted_and_sequence_continues(model: ScriptedModelServer) -> None:
    """Steps play one per response; after the last tool the first result line is quoted."""
    prompt = user("[[bash: echo one]] [[bash: echo two]]")
    first = ask(model.url, [prompt, ENV_BLOCK])
    assert first["content"][0]["input"]["command"] == "echo one"
    call = {"role": "assistant", "content": first["content"]}
    result = {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": first["content"][0]["id"], "content": "one\nmore"},
    ]}  # fmt: skip
    second = ask(model.url, [prompt, ENV_BLOCK, call, result])
    assert second["content"][0]["input"]["command"] == "echo two"
    last = ask(model.url, [prompt, ENV_BLOCK, call, result, {"role": "assistant",
               "content": second["content"]}, result])  # fmt: skip
    assert last["stop_reason"] == "end_turn"
    assert last["content"][0]["text"] == "The tool said: one"


def test_slow_directive_streams_over_the_time(model: ScriptedModelServer) -> None:
    """[[slow: 1]] takes about a second to stream its text."""
    started = time.monotonic()
    message = ask(model.url, [user("[[slow: 1]]")])
    assert 0.9 <= time.monotonic() - started < 5
    assert "streamed over 1s" in message["content"][0]["text"]


def test_error_directive_returns_anthropic_error(model: ScriptedModelServer) -> None:
    """[[error: 529 | 1]] fails once with an overloaded_error body, then plays on."""
    body = {"model": "m", "stream": True, "messages": [user("[[error: 529 | 1]] [[say: back]]")]}
    response = httpx.post(f"{model.url}/v1/messages", json=body)
    assert response.status_code == 529
    assert response.json() == {
        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
    }  # fmt: skip
    assert ask(model.url, body["messages"])["content"][0]["text"] == "back"


def test_non_streaming_and_count_tokens(model: ScriptedModelServer) -> None:
    """stream=false returns one JSON message; count_tokens answers input_tokens."""
    body = {"model": "m", "max_tokens": 10, "messages": [user("hi")]}
    message = httpx.post(f"{model.url}/v1/messages", json=body).json()
    assert message["type"] == "message" and message["content"][0]["text"] == "Scripted reply to: hi"
    counted = httpx.post(f"{model.url}/v1/messages/count_tokens", json=body).json()
    assert isinstance(counted["input_tokens"], int) and counted["input_tokens"] > 0


def test_title_side_request_plays_no_step(model: ScriptedModelServer) -> None:
    """Claude Code's tool-less title call gets JSON for its schema, not the scripted step."""
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    message = ask(
        model.url,
        [user("<session>\n[[bash: rm -rf x]] fix the parser\n</session>\nName it.")],
        tools=[],
        system=[{"type": "text", "text": "You are naming a coding session."}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    assert message["stop_reason"] == "end_turn"
    assert json.loads(message["content"][0]["text"]) == {"title": "[[bash: rm -rf x]]"}


def test_yaml_script_plays_turns_for_prompts_without_directives(tmp_path: Path) -> None:
    """A YAML script's turns are played in order by prompts that carry no directive."""
    path = tmp_path / "script.yaml"
    path.write_text("- '[[bash: make test]]'\n- [{say: second turn}]\n")
    with ScriptedModelServer(load_script(path)) as server:
        first = ask(server.url, [user("go")])
        assert first["content"][0]["input"]["command"] == "make test"
        call = {"role": "assistant", "content": first["content"]}
        result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                               "content": "ok"}]}  # fmt: skip
        second = ask(server.url, [user("go"), call, result, {"role": "assistant",
                     "content": [{"type": "text", "text": "done"}]}, user("next")])  # fmt: skip
        assert second["content"][0]["text"] == "second turn"


def test_unknown_directive_is_a_clear_400(model: ScriptedModelServer) -> None:
    """A misspelt directive is refused with a message naming it."""
    response = httpx.post(f"{model.url}/v1/messages", json={"messages": [user("[[bsh: ls]]")]})
    assert response.status_code == 400
    assert "[[bsh" in response.json()["error"]["message"]


def test_tool_directive_calls_any_named_tool_with_json_input(model: ScriptedModelServer) -> None:
    """[[tool: NAME {JSON}]] streams a tool_use of that tool (an MCP tool here) with that
    input; a JSON tool result is quoted whole on one line."""
    prompt = user('[[tool: mcp__warden__get_session {"session_id": "s-1", "n": [1, 2]}]]')
    first = ask(model.url, [prompt, ENV_BLOCK])
    (block,) = first["content"]
    assert block["type"] == "tool_use" and block["name"] == "mcp__warden__get_session"
    assert block["input"] == {"session_id": "s-1", "n": [1, 2]}
    call = {"role": "assistant", "content": first["content"]}
    result = {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": block["id"], "content": '{\n  "id": "s-1"\n}'},
    ]}  # fmt: skip
    last = ask(model.url, [prompt, ENV_BLOCK, call, result])
    assert last["content"][0]["text"] == 'The tool said: {"id": "s-1"}'


def test_tool_directive_with_bad_json_is_refused() -> None:
    """A tool directive whose input is not a JSON object names the problem."""
    from runner.errors import InvalidInputError
    from runner.scripted.script import parse_directives

    with pytest.raises(InvalidInputError, match="not JSON"):
        parse_directives("[[tool: mcp__x__y {nope]]")
    with pytest.raises(InvalidInputError, match="JSON object"):
        parse_directives("[[tool: mcp__x__y 42]]")
