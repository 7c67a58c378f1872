"""Rendering a text output in OpenAI's shapes: stops, pieces, logprobs, usage."""

from __future__ import annotations

from swarmgen.coordinator.faces.openai.text import (
    UNLIKELY,
    chat_logprobs,
    legacy_logprobs,
    pieces,
    stopped,
    usage,
)
from swarmgen.core.outputs import TextOutput

TOP = ((5, -0.1), (6, -2.0), (7, -3.0))


def output(finish: str = "stop") -> TextOutput:
    return TextOutput(
        text="ab cd", token_ids=(5, 9, 2), top_logprobs=(TOP, TOP, TOP), prompt_tokens=4,
        finish_reason=finish,
    )  # fmt: skip


def test_the_first_stop_sequence_cuts_and_sets_the_reason() -> None:
    assert stopped("one two three", "length", ["three", "two"]) == ("one ", "stop")
    assert stopped("one two", "length", ["zz"]) == ("one two", "length")
    assert stopped("one two", "length", []) == ("one two", "length")


def test_pieces_keep_every_character() -> None:
    for text in ("", "a", "  lead and  trail  ", "line\nbreak\ttab"):
        assert "".join(pieces(text)) == text


def test_logprobs_leave_out_the_end_token_and_mark_unlisted_choices() -> None:
    content = chat_logprobs(output("stop"), 2)["content"]
    assert [c["token"] for c in content] == ["5", "9"]  # token 2 ended the text
    assert content[0]["logprob"] == -0.1 and content[1]["logprob"] == UNLIKELY
    assert all(len(c["top_logprobs"]) == 2 for c in content)
    legacy = legacy_logprobs(output("length"), 3)
    assert legacy["tokens"] == ["5", "9", "2"]
    assert legacy["top_logprobs"][0] == {"5": -0.1, "6": -2.0, "7": -3.0}


def test_usage_counts_every_generated_token() -> None:
    assert usage(output()) == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
