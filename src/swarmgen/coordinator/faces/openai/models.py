"""``/v1/models``: the registry's offerings in OpenAI's list shape."""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from swarmgen.coordinator.faces.openai.errors import documented
from swarmgen.coordinator.faces.openai.running import Runner
from swarmgen.coordinator.network import tier_figures
from swarmgen.core.offerings import Offering
from swarmgen.errors import FieldProblem, UnknownModel
from swarmgen.protocol.bounds import PLAIN
from swarmgen.store.records import UserRecord

OWNER = "swarmgen"


def router(runner: Runner, route_class: type) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["openai"], route_class=route_class)
    registry = runner.services.registry

    def card(offering: Offering) -> dict[str, Any]:
        kind = registry.entry(offering).kind.value
        figures = tier_figures(registry, runner.services.credits, offering)
        extension = {"kind": kind, "precision": offering.precision.value, **figures}
        return {"id": str(offering), "object": "model", "created": 0, "owned_by": OWNER,
                "swarmgen": extension}  # fmt: skip

    @api.get("/models", responses=documented(400, 401))
    def list_models(_user: Annotated[UserRecord, Depends(runner.requester)]) -> dict[str, Any]:
        """Every model offering (name@precision) this coordinator schedules."""
        return {"object": "list", "data": [card(o) for o in registry.all_offerings()]}

    @api.get("/models/{model}", responses=documented(400, 401, 404))
    def get_model(
        model: Annotated[str, Path(min_length=1, max_length=80, pattern=PLAIN)],
        _user: Annotated[UserRecord, Depends(runner.requester)],
    ) -> dict[str, Any]:
        """One model offering."""
        for offering in registry.all_offerings():
            if str(offering) == model:
                return card(offering)
        raise UnknownModel(FieldProblem("model", f"unknown model offering {model}"))

    return api
