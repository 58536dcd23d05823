"""/api/v1/models (staff): register, update and deactivate arena models, through the registry's checks (the
same as ``manage.py add_model``'s). The API key itself never travels: a model names the environment
variable that holds it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Router, Schema, Status

from api.auth import caller
from api.bodies import Body
from api.errors import PROBLEMS, ApiError
from arena.models import ArenaModel
from arena.registry import model_register
from workers.backends import BACKENDS

router = Router(tags=["models"])

EDITABLE = (
    "organization",
    "endpoint",
    "model_id",
    "api_key_env",
    "params",
    "weight",
    "max_concurrency",
    "timeout_s",
    "queue",
    "active",
)


class ModelChange(Body):
    backend: Literal[tuple(sorted(BACKENDS))] | None = None  # type: ignore[valid-type]
    organization: str | None = Field(None, max_length=200)
    endpoint: str | None = Field(None, max_length=500)
    model_id: str | None = Field(None, max_length=500)
    api_key_env: str | None = Field(None, max_length=100)
    params: dict | None = None
    weight: float | None = Field(None, ge=0, le=1e6)
    max_concurrency: int | None = Field(None, ge=0, le=2_147_483_647)
    timeout_s: float | None = Field(None, ge=0.1, le=1e6)
    queue: str | None = Field(None, max_length=100)
    active: bool | None = None


class ModelIn(ModelChange):
    name: str = Field(min_length=1, max_length=200)
    backend: Literal[tuple(sorted(BACKENDS))]  # type: ignore[valid-type]


class ModelOut(Schema):
    name: str
    backend: str
    organization: str
    endpoint: str
    model_id: str
    api_key_env: str
    params: dict
    weight: float
    max_concurrency: int
    timeout_s: float
    queue: str
    active: bool
    created_at: datetime
    updated_at: datetime


def _out(model: ArenaModel) -> dict:
    return {name: getattr(model, name) for name in ModelOut.model_fields}


def _given(body: Schema, exclude: set[str]) -> dict:
    """The fields the request gave a value; null counts as not given, as on a PATCH of a project."""
    return {k: v for k, v in body.model_dump(exclude_unset=True, exclude=exclude).items() if v is not None}


def _register(name: str, backend: str, changes: dict) -> ArenaModel:
    # The registry's refusals (ValidationError) become a 422 naming each field (api/errors.py).
    model, _ = model_register(name=name, backend=backend, **changes)
    return model


def _model(name: str) -> ArenaModel:
    model = ArenaModel.objects.filter(name=name).first()
    if model is None:
        raise ApiError(404, f"No model {name!r}.")
    return model


@router.get("", response={200: list[ModelOut], **PROBLEMS}, summary="The arena's models (staff)")
def models_list(request):
    caller(request).require_staff()
    return [_out(m) for m in ArenaModel.objects.order_by("name")]


@router.post("", response={201: ModelOut, **PROBLEMS}, summary="Register a model (staff)")
def model_create(request, body: ModelIn):
    caller(request).require_staff()
    if ArenaModel.objects.filter(name=body.name).exists():
        raise ApiError(409, f"There is already a model {body.name!r}; PATCH it to change it.", [("name", "taken")])
    changes = _given(body, exclude={"name", "backend"})
    return Status(201, _out(_register(body.name, body.backend, changes)))


# Names may hold a slash (org/model, as "path:"), so the deactivate route comes first.
@router.post("/{path:name}/deactivate", response={200: ModelOut, **PROBLEMS}, summary="Stop serving a model (staff)")
def model_deactivate(request, name: str):
    caller(request).require_staff()
    model = _model(name)
    return _out(_register(name, model.backend, {"active": False}))


@router.get("/{path:name}", response={200: ModelOut, **PROBLEMS}, summary="One model (staff)")
def model_read(request, name: str):
    caller(request).require_staff()
    return _out(_model(name))


@router.patch("/{path:name}", response={200: ModelOut, **PROBLEMS}, summary="Change a model (staff)")
def model_update(request, name: str, body: ModelChange):
    caller(request).require_staff()
    model = _model(name)
    changes = _given(body, exclude={"backend"})
    return _out(_register(name, body.backend or model.backend, changes))
