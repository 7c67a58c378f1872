"""``/v1/chat/completions`` and ``/v1/completions`` on swarmgen's text jobs.

Messages go to the worker as they are; the worker's backend builds the prompt with the
model's chat template (a bare completion prompt is one user message). The answer is
built from the job's text output: its text, token ids and per-position top-k logprobs.

Two limits of what a worker returns show here. Workers return token *ids*, not token
strings, and the coordinator loads no tokenizer, so a logprob's ``token`` is the id in
decimal (``bytes`` is null). A chosen token outside the worker's top-k has no logprob
of its own; it reads ``-9999.0``, OpenAI's own value for "too unlikely to report".
Stop sequences are applied to the finished text (the worker decodes to ``max_tokens``
or its end token), so a stopped answer's logprobs still cover every generated token.
Streaming sends the finished answer as chunks: it starts when the job completes.
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from swarmgen.coordinator.domain import JobRequest, JobStatus
from swarmgen.coordinator.faces.openai import errors
from swarmgen.coordinator.faces.openai.running import Runner, swarmgen_extension
from swarmgen.coordinator.faces.openai.wire import ChatIn, CompletionIn, Sampling
from swarmgen.coordinator.provenance import JobProvenance
from swarmgen.core.jobs import Message, TextSpec
from swarmgen.core.outputs import TextOutput
from swarmgen.errors import SwarmgenError
from swarmgen.store.records import UserRecord

DEFAULT_MAX_TOKENS = 64
UNLIKELY = -9999.0
ROLES = {"developer": "system"}
_PIECE = re.compile(r"\S*\s*")


def spec_of(body: Sampling, messages: Sequence[Message], prompt: str | None) -> TextSpec:
    tokens = body.tokens() if isinstance(body, ChatIn) else getattr(body, "max_tokens", None)
    return TextSpec(
        messages=tuple(messages),
        prompt=prompt,
        max_tokens=tokens or DEFAULT_MAX_TOKENS,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
    )


def stopped(text: str, finish: str, stops: Sequence[str]) -> tuple[str, str]:
    """The text cut at its first stop sequence, and the finish reason that follows."""
    cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
    if cuts:
        return text[: min(cuts)], "stop"
    return text, finish


def generated(output: TextOutput) -> list[tuple[int, tuple[tuple[int, float], ...]]]:
    """Each generated token with its position's top-k, the end token left out."""
    pairs = list(zip(output.token_ids, output.top_logprobs, strict=True))
    return pairs[:-1] if output.finish_reason == "stop" and pairs else pairs


def chosen_logprob(token: int, top: Sequence[tuple[int, float]]) -> float:
    return next((lp for tid, lp in top if tid == token), UNLIKELY)


def chat_logprobs(output: TextOutput, top_n: int) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": str(token),
                "logprob": chosen_logprob(token, top),
                "bytes": None,
                "top_logprobs": [
                    {"token": str(tid), "logprob": lp, "bytes": None} for tid, lp in top[:top_n]
                ],
            }
            for token, top in generated(output)
        ],
        "refusal": None,
    }


def legacy_logprobs(output: TextOutput, top_n: int) -> dict[str, Any]:
    """The completions API's logprobs: parallel lists (offsets are unknown: null)."""
    pairs = generated(output)
    return {
        "tokens": [str(token) for token, _ in pairs],
        "token_logprobs": [chosen_logprob(token, top) for token, top in pairs],
        "top_logprobs": [{str(tid): lp for tid, lp in top[:top_n]} for _, top in pairs],
        "text_offset": None,
    }


def usage(output: TextOutput) -> dict[str, int]:
    done = len(output.token_ids)
    return {
        "prompt_tokens": output.prompt_tokens,
        "completion_tokens": done,
        "total_tokens": output.prompt_tokens + done,
    }


def pieces(text: str) -> Iterator[str]:
    """The text in word-sized pieces (whitespace kept), as a stream sends them."""
    for match in _PIECE.finditer(text):
        if match.group():
            yield match.group()


def sse(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


CHUNK = "chat.completion.chunk"
COMPLETION = "text_completion"


def envelope(status: JobStatus, provenance: JobProvenance, obj: str = CHUNK) -> dict[str, Any]:
    return {
        "id": f"cmpl-{status.id}" if obj == COMPLETION else f"chatcmpl-{status.id}",
        "object": obj,
        "created": status.created_ms // 1000,
        "model": status.model,
        "system_fingerprint": provenance.receipt_digest,
        "swarmgen": swarmgen_extension(status, provenance),
    }


def chat_choice(body: ChatIn, output: TextOutput) -> tuple[str, str, dict[str, Any] | None]:
    text, finish = stopped(output.text, output.finish_reason, body.stops())
    logprobs = chat_logprobs(output, body.top_logprobs or 0) if body.logprobs else None
    return text, finish, logprobs


def completion_choice(body: CompletionIn, output: TextOutput) -> dict[str, Any]:
    text, finish = stopped(output.text, output.finish_reason, body.stops())
    logprobs = legacy_logprobs(output, body.logprobs) if body.logprobs is not None else None
    return {"index": 0, "text": text, "finish_reason": finish, "logprobs": logprobs}


def chat_chunks(
    body: ChatIn, output: TextOutput, status: JobStatus, provenance: JobProvenance
) -> Iterator[dict[str, Any]]:
    """A role chunk, the text in pieces, then the finish reason (and logprobs)."""
    text, finish, logprobs = chat_choice(body, output)
    head = envelope(status, provenance)
    first = {"role": "assistant", "content": ""}
    yield {**head, "choices": [{"index": 0, "delta": first, "finish_reason": None}]}
    for piece in pieces(text):
        delta = {"content": piece}
        yield {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    last = {"index": 0, "delta": {}, "finish_reason": finish, "logprobs": logprobs}
    yield {**head, "choices": [last]}


def completion_chunks(
    body: CompletionIn, output: TextOutput, status: JobStatus, provenance: JobProvenance
) -> Iterator[dict[str, Any]]:
    whole = completion_choice(body, output)
    head = envelope(status, provenance, COMPLETION)
    for piece in pieces(whole["text"]):
        part = {"index": 0, "text": piece, "finish_reason": None, "logprobs": None}
        yield {**head, "choices": [part]}
    yield {**head, "choices": [{**whole, "text": ""}]}


Chunks = Callable[[TextOutput, JobStatus, JobProvenance], Iterator[dict[str, Any]]]


@dataclass(frozen=True)
class TextAnswers:
    """Waits for a text job and renders it whole or as a stream."""

    runner: Runner

    async def finished(
        self, user: UserRecord, job_id: str, client: Request | None = None
    ) -> tuple[TextOutput, JobStatus, JobProvenance]:
        status, provenance = await self.runner.finish(user, job_id, client)
        raw = await asyncio.to_thread(self.runner.result, user, job_id, 0, "json")
        return TextOutput.from_canonical(json.loads(raw)), status, provenance

    def stream(
        self, user: UserRecord, job_id: str, body: Sampling, render: Chunks, obj: str = CHUNK
    ) -> StreamingResponse:
        """SSE: the finished answer in chunks, the usage chunk when asked for, then
        ``[DONE]``. A job that did not complete is an error event, as OpenAI sends one."""

        async def events() -> AsyncIterator[bytes]:
            try:
                output, status, provenance = await self.finished(user, job_id)
            except SwarmgenError as exc:
                yield sse(json.loads(bytes(errors.error_response(exc).body)))
                yield sse("[DONE]")
                return
            for chunk in render(output, status, provenance):
                yield sse(chunk)
            if body.stream_options is not None and body.stream_options.include_usage:
                tail = {"choices": [], "usage": usage(output)}
                yield sse({**envelope(status, provenance, obj), **tail})
            yield sse("[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream")


def router(runner: Runner, route_class: type) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["openai"], route_class=route_class)
    User = Annotated[UserRecord, Depends(runner.requester)]
    answers = TextAnswers(runner)

    @api.post("/chat/completions", response_model=None, responses=errors.JOB)
    async def chat(body: ChatIn, user: User, request: Request) -> JSONResponse | StreamingResponse:
        """A chat answer from a text model offering (name@precision)."""
        messages = [Message(ROLES.get(m.role, m.role), m.text()) for m in body.messages]
        job_id = await runner.submit(user, JobRequest(body.model, spec_of(body, messages, None)))
        if body.stream:
            return answers.stream(user, job_id, body, partial(chat_chunks, body))
        output, status, provenance = await answers.finished(user, job_id, request)
        text, finish, logprobs = chat_choice(body, output)
        message = {"role": "assistant", "content": text, "refusal": None}
        choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": logprobs}
        return JSONResponse(
            {
                **envelope(status, provenance, "chat.completion"),
                "choices": [choice],
                "usage": usage(output),
            }
        )

    @api.post("/completions", response_model=None, responses=errors.JOB)
    async def completions(
        body: CompletionIn, user: User, request: Request
    ) -> JSONResponse | StreamingResponse:
        """A completion of ``prompt`` (sent to the model as one user message)."""
        job_id = await runner.submit(user, JobRequest(body.model, spec_of(body, (), body.prompt)))
        if body.stream:
            render = partial(completion_chunks, body)
            return answers.stream(user, job_id, body, render, COMPLETION)
        output, status, provenance = await answers.finished(user, job_id, request)
        return JSONResponse(
            {
                **envelope(status, provenance, COMPLETION),
                "choices": [completion_choice(body, output)],
                "usage": usage(output),
            }
        )

    return api
