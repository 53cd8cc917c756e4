"""The HTTP intake: authenticate, bound, validate and store each submission, answer, then signal."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, NoReturn, Self, TypeVar

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.submissions import store_submissions
from intake.security import Guard, Unauthorized, intake_secret, parse_api_keys
from intake.trigger import Trigger
from models.db import get_engine
from models.settings import get_settings
from qualification.submission import (
    CANONICAL_FIELDS,
    NAME_PARTS,
    Submission,
    canonical_header,
    clean_value,
    field_problems,
    safe_payload,
)
from qualification.submission import submission_from_mapping as to_submission

log = logging.getLogger(__name__)

BODY_LIMIT = 64 * 1024
# The database or its connection is away: 503 with Retry-After, after these pauses (seconds).
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError)
STORE_RETRY_PAUSES = (0.2, 0.5)
FORM_SOURCE = "intake"
# Keys webinar platforms use beyond the importers' header aliases.
EVENT_ALIASES: dict[str, str] = {
    "topic": "webinar_session",
    "webinar_topic": "webinar_session",
    "session_name": "webinar_session",
    "event_title": "webinar_session",
    "join_time": "received_at",
    "joined_at": "received_at",
    "registration_date": "received_at",
    "attendee_email": "email",
    "registrant_email": "email",
    "consent": "consent_email",
    "opt_in": "consent_email",
    "marketing_opt_in": "consent_email",
    "did_attend": "webinar_attended",
    "attendance": "webinar_attended",
}
_PLATFORM = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_SUBMISSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Set by the handlers on the request scope, for the request log line.
_LOG_PATH = "medleads.path"
_LOG_SUBMISSION = "medleads.submission_id"


def _scalar(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise PydanticCustomError(
        "scalar", "must be a string, number or boolean, not an object or list"
    )


def _blank(value: object) -> bool:
    # Literally blank only: a placeholder such as "n/a" is stored, and evaluation decides.
    return value is None or (isinstance(value, str) and not value.strip())


def _present(value: str | int | float | bool | None) -> str | int | float | bool | None:
    if _blank(value):
        raise PydanticCustomError("missing", "is required and must not be blank")
    return value


def _submission_id(value: str) -> str:
    if not _SUBMISSION_ID.fullmatch(value):
        raise PydanticCustomError(
            "submission_id", "must be 1-128 letters, digits, dots, underscores, colons or dashes"
        )
    return value


Scalar = Annotated[str | int | float | bool | None, PlainValidator(_scalar)]
Required = Annotated[Scalar, AfterValidator(_present)]
SubmissionId = Annotated[str, AfterValidator(_submission_id)]


class CanonicalFields(BaseModel):
    """Every canonical field (DESIGN §2a), optional, each a plain JSON value."""

    model_config = ConfigDict(extra="allow", frozen=True)

    submission_id: SubmissionId | None = None
    channel: Scalar = None
    source: Scalar = None
    campaign: Scalar = None
    received_at: Scalar = None
    organization_name: Scalar = None
    website: Scalar = None
    org_type: Scalar = None
    npi: Scalar = None
    locations_count: Scalar = None
    country: Scalar = None
    state: Scalar = None
    city: Scalar = None
    postal_code: Scalar = None
    contact_name: Scalar = None
    contact_role: Scalar = None
    email: Scalar = None
    phone: Scalar = None
    specialty: Scalar = None
    interest_type: Scalar = None
    message: Scalar = None
    timeframe: Scalar = None
    budget_range: Scalar = None
    current_vendor: Scalar = None
    consent_email: Scalar = None
    consent_phone: Scalar = None
    consent_text: Scalar = None
    form_version: Scalar = None
    page_visits_high_intent: Scalar = None
    content_downloads: Scalar = None
    email_engagements: Scalar = None
    webinar_session: Scalar = None
    webinar_attended: Scalar = None
    entity_type: Scalar = None
    taxonomy_codes: Scalar = None
    npi_deactivated_on: Scalar = None
    npi_reactivated_on: Scalar = None
    parent_organization: Scalar = None
    decision_maker_role: Scalar = None
    approver: Scalar = None


class FormPost(CanonicalFields):
    """`POST /v1/forms`: canonical fields; other fields are kept but must be plain values too."""

    __pydantic_extra__: dict[str, Scalar] = Field(init=False)

    channel: Literal["form"] | None = None
    organization_name: Required

    @model_validator(mode="after")
    def _email_or_phone(self) -> Self:
        if _blank(self.email) and _blank(self.phone):
            raise PydanticCustomError("email_or_phone", "give an email or a phone")
        return self


M = TypeVar("M", bound=BaseModel)


class EventPost(CanonicalFields):
    """`POST /v1/events/{platform}`, after mapping the platform's keys onto canonical names."""

    organization_name: Required
    email: Required


def _validated(model: type[M], data: dict[str, Any], sent: dict[str, str] | None = None) -> M:
    """The body validated; a problem names the key the caller sent (`sent`: our name -> theirs,
    for a platform's callback keys)."""
    sent = sent or {}
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems: list[dict[str, Any]] = []
        for e in error.errors(include_url=False, include_input=False):
            if e["type"] == "email_or_phone":
                fields = [sent.get(f, f) for f in ("email", "phone")]
                problems += [_problem(["body", f], e["msg"], e["type"]) for f in fields]
            else:
                loc = [
                    sent.get(str(part), part) if i == 0 else part for i, part in enumerate(e["loc"])
                ]
                problems.append(_problem(["body", *loc], e["msg"], e["type"]))
        raise HTTPException(422, detail=problems) from None


def _problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _refuse(loc: list[str | int], msg: str, kind: str = "value_error") -> NoReturn:
    raise HTTPException(422, detail=[_problem(loc, msg, kind)])


class Intake:
    """The request handlers, sharing one guard and one trigger."""

    def __init__(self, guard: Guard, trigger: Trigger) -> None:
        self.guard = guard
        self.trigger = trigger

    async def post_form(self, request: Request) -> JSONResponse:
        data = await self._authenticated_object(request)
        _validated(FormPost, data)
        data = _made_safe(data)
        submission = to_submission(data, channel="form")
        _refuse_unstorable(submission, data, {k: k for k in data})
        return await self._store(request, submission, data, FORM_SOURCE)

    async def post_event(self, platform: str, request: Request) -> JSONResponse:
        platform = platform.lower()
        if not _PLATFORM.fullmatch(platform):
            raise HTTPException(404, "unknown platform: use lowercase letters, digits and dashes")
        request.scope[_LOG_PATH] = f"/v1/events/{platform}"
        data = await self._authenticated_object(request)
        names = _event_names(data)
        post = _validated(
            EventPost,
            {names[key]: value for key, value in data.items()},
            {name: key for key, name in names.items()},
        )
        data = _made_safe(data)
        names = _event_names(data)  # keys made safe too
        # The flows map stored payloads with the importers' aliases only: add the canonical key
        # for what only the intake knows ("topic" -> webinar_session); the original stays too.
        payload = dict(data)
        for key, name in names.items():
            if name in CANONICAL_FIELDS and name not in payload and name != canonical_header(key):
                payload[name] = data[key]
        submission = to_submission(payload, channel="webinar", header_map=names)
        _refuse_unstorable(submission, payload, {k: names.get(k, k) for k in payload})
        if clean_value(post.submission_id) is not None:
            # Platforms number their registrants independently: keep their ids apart.
            scoped = f"{platform}:{submission.submission_id}"
            if len(scoped) > 128:
                _refuse(["body", "submission_id"], f"must be at most {127 - len(platform)} chars")
            submission = dataclasses.replace(submission, submission_id=scoped)
        return await self._store(request, submission, payload, platform)

    async def health(self) -> JSONResponse:
        try:
            await run_in_threadpool(_ping_database)
        except Exception as error:
            log.warning("health check: database unreachable (%s)", _kind(error))
            return JSONResponse({"status": "ok", "database": "error"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    async def _authenticated_object(self, request: Request) -> dict[str, Any]:
        try:
            pending = self.guard.check_headers(request.headers)
            body = await _read_body(request)
            self.guard.check_body(pending, body)
        except Unauthorized as refused:
            raise HTTPException(401, str(refused)) from None
        return _parse_object(body)

    async def _store_with_retries(
        self, submission: Submission, payload: dict[str, Any], source: str
    ) -> int:
        """Store it; a moment's unavailability ("database is locked" in a burst) is tried
        again twice before the caller is told 503."""
        for pause in (*STORE_RETRY_PAUSES, None):
            try:
                new, _ = await run_in_threadpool(store_submissions, [(submission, payload)], source)
                return new
            except UNAVAILABLE as e:
                if pause is None:
                    raise
                log.info("store of %s retried (%s)", submission.submission_id, _kind(e))
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _store(
        self, request: Request, submission: Submission, payload: dict[str, Any], source: str
    ) -> JSONResponse:
        submission_id = submission.submission_id
        request.scope[_LOG_SUBMISSION] = submission_id
        try:
            new = await self._store_with_retries(submission, payload, source)
        except UNAVAILABLE as e:
            log.warning(
                "submission %s not stored: database unavailable (%s)", submission_id, _kind(e)
            )
            raise HTTPException(
                503,
                "the database is unavailable; nothing was accepted, try again later",
                headers={"Retry-After": "30"},
            ) from None
        except sa_exc.SQLAlchemyError as e:
            # SQLAlchemy's message quotes the row's values: log the kind of error only.
            log.error("submission %s not stored (%s)", submission_id, _kind(e))
            raise HTTPException(500, "the submission could not be stored") from None
        if new:
            self.trigger.notify(submission.channel)
        return JSONResponse({"submission_id": submission_id, "duplicate": not new}, status_code=202)


def _made_safe(data: dict[str, Any]) -> dict[str, Any]:
    """The body made safe at the door (`safe_payload`): text normalized, and no lone surrogate,
    NUL or control character reaches the database; a value that cannot be stored is refused with
    the key the caller sent."""
    clean, problems = safe_payload(data)
    if problems:
        raise HTTPException(
            422, detail=[_problem(["body", key], why, "value_error") for key, why in problems]
        )
    return clean


def _refuse_unstorable(
    submission: Submission, data: dict[str, Any], canonical_of: dict[str, str]
) -> None:
    """A canonical field too long once assembled (a first and a last name), named by the keys
    the caller sent for it."""
    problems = field_problems(submission)
    if not problems:
        return
    given = {k: name for k, name in canonical_of.items() if clean_value(data.get(k)) is not None}
    detail = []
    for field, why in problems:
        sent = [k for k, name in given.items() if canonical_header(name) == field]
        if field == "contact_name" and not sent:
            sent = [k for k, n in given.items() if canonical_header(n) in NAME_PARTS]
        detail.append(_problem(["body", " + ".join(sent) or field], why, "value_error"))
    raise HTTPException(422, detail=detail)


def _kind(error: BaseException) -> str:
    """The error's kind; for a database error, the driver's own first line too ("database is
    locked"), never the statement or its parameters."""
    kind = type(error).__name__
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        first = (str(error.orig).strip().splitlines() or [""])[0][:120]
        return f"{kind}: {type(error.orig).__name__}: {first}"
    return kind


async def _read_body(request: Request) -> bytes:
    too_large = HTTPException(413, f"the body is larger than {BODY_LIMIT} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise too_large
    return bytes(body)


def _parse_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        _refuse(["body"], "the JSON is nested too deeply", "json_invalid")
    except ValueError as error:
        _refuse(["body"], f"not valid JSON: {error}", "json_invalid")
    if not isinstance(data, dict):
        _refuse(["body"], f"must be a JSON object, not {type(data).__name__}", "model_type")
    return data


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _event_names(data: dict[str, Any]) -> dict[str, str]:
    """Each key of a platform's callback -> its canonical name (or its cleaned own name)."""
    names: dict[str, str] = {}
    for key in data:
        # A bare "id" is often the webinar's id, shared by every registrant: not an idempotency key.
        name = "platform_id" if key.strip().lower() == "id" else canonical_header(key)
        names[key] = EVENT_ALIASES.get(name, name)
    return names


def _ping_database() -> None:
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


class RequestLog:
    """One line per request: method, route, status, duration, submission id; never bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            # Only our own route templates: a raw path or query string could carry anything.
            path = scope.get(_LOG_PATH) or getattr(route, "path", None) or "(no route)"
            log.info(
                "%s %s %d %.1fms submission_id=%s",
                scope["method"],
                path,
                status,
                (time.perf_counter() - started) * 1000,
                scope.get(_LOG_SUBMISSION) or "-",
            )


def create_app(trigger: Trigger | None = None) -> FastAPI:
    """The intake app; the secret is read (or generated) and the settings read now."""
    settings = get_settings()
    guard = Guard(intake_secret(), parse_api_keys(settings.intake_api_keys))
    signal = trigger or Trigger(window=settings.intake_trigger_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        signal.start()
        try:
            yield
        finally:
            signal.stop()

    app = FastAPI(
        title="medleads intake", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.trigger = signal
    intake = Intake(guard, signal)
    app.add_api_route("/v1/forms", intake.post_form, methods=["POST"])
    app.add_api_route("/v1/events/{platform}", intake.post_event, methods=["POST"])
    app.add_api_route("/v1/health", intake.health, methods=["GET"])
    app.add_middleware(RequestLog)
    return app


def run(host: str | None = None, port: int | None = None) -> None:
    """Serve the intake with uvicorn (MEDLEADS_INTAKE_HOST / MEDLEADS_INTAKE_PORT by default)."""
    settings = get_settings()
    _plain_log_lines(logging.getLogger("intake"))
    uvicorn.run(
        create_app(),
        host=host or settings.intake_host,
        port=settings.intake_port if port is None else port,
        access_log=False,  # our own line per request leaves out query strings and personal data
        ws="none",
        server_header=False,
        log_level="info",
    )


def _plain_log_lines(logger: logging.Logger) -> None:
    """INFO lines to stderr through a plain handler: Prefect's rich console handler (the root
    handler once prefect is imported) cost about as much CPU per request as the request itself."""
    if not logger.propagate:  # already set up in this process
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s", "%H:%M:%S"
        )
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
