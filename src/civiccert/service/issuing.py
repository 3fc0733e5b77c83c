"""Single-issue requests issued in groups: concurrent ``POST /v1/credentials`` share their durable writes.

Every issue request needs four committed transactions (its idempotency reservation, the status indexes, the
journal, its stored response with its audit entry). On SQLite all of them queue for the one database write
lock, each holding it through an fsync, so requests/s were bounded by commits/s, not by the CPU. Here the
requests that arrive while the writer threads are busy wait in a queue; a free writer takes all of them (up to
``MAX_GROUP``) and runs them as one group: one transaction reserves every key, one ``issue_many`` signs them and
journals them in one commit, one transaction stores every response with its audit entry. Then each request gets
its own answer. At low load a group is one request, so latency does not grow; under load the commits per
request fall with the group size.

Nothing changes for a client: each request keeps its own Idempotency-Key, reservation, response, audit entry
and error (a record that fails its checks fails alone: the group falls back to issuing one by one when
``issue_many`` refuses). A 201 is sent only after the journal and the stored response are committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from starlette.responses import Response

from civiccert.credential_file import CredentialFile
from civiccert.errors import CivicCertError, ReasonCode, RecordError, ServiceError
from civiccert.issuance.issuer import Issuer
from civiccert.service.asgi import json_bytes, json_response
from civiccert.service.auth import Principal
from civiccert.service.logs import log_event
from civiccert.service.metrics import Metrics
from civiccert.service.store import AuditNote, Finished, ServiceStore

__all__ = ["MAX_GROUP", "GroupIssuer", "IssueJob", "issue_group"]

MAX_GROUP = 32  # requests per group: bounds the wait of the last one (a group signs for ~2 ms per record)


@dataclass
class IssueJob:
    """One issue request: who, its key and request hash, its parsed body; then its answer."""

    who: Principal
    key: str
    digest: str
    document: Any
    response: Response | None = None
    error: BaseException | None = None
    future: asyncio.Future[Response] | None = field(default=None, repr=False)


class GroupIssuer:
    """The queue of issue requests (event-loop side): at most ``slots`` groups run at once, in threads."""

    def __init__(self, run: Callable[[list[IssueJob]], None], *, slots: int, limiter: anyio.CapacityLimiter,
                 metrics: Metrics) -> None:  # fmt: skip
        self._run = run
        self._metrics = metrics
        self._slots = slots
        self._limiter = limiter
        self._pending: list[IssueJob] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, job: IssueJob) -> Response:
        """Queue ``job`` and wait for its answer (a raised CivicCertError is answered by the error handlers)."""
        job.future = asyncio.get_running_loop().create_future()
        self._pending.append(job)
        self._start_groups()
        return await job.future

    def _start_groups(self) -> None:
        while self._pending and self._running < self._slots:
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            self._running += 1
            self._metrics.issue_group(len(group))
            task = asyncio.get_running_loop().create_task(self._go(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _go(self, group: list[IssueJob]) -> None:
        try:
            await anyio.to_thread.run_sync(self._run, group, limiter=self._limiter)
        except Exception as exc:  # handed to every request still waiting (a cancellation passes through)
            for job in group:
                if job.response is None and job.error is None:
                    job.error = exc
        finally:
            self._running -= 1
            for job in group:
                if job.future is not None and not job.future.done():
                    if job.response is not None:
                        job.future.set_result(job.response)
                    else:
                        job.future.set_exception(job.error or RuntimeError("no answer"))
            self._start_groups()


def parse_issue(document: Any, load: Callable[[Any, str], Any]) -> tuple[Any, dict[str, Any] | None, bool]:
    """(record, holder JWK, paper) of an issue request's body, or RecordError naming the field."""
    if not isinstance(document, dict) or not isinstance(document.get("record"), dict):
        raise RecordError(ReasonCode.FIELD_MISSING, "an object with a record is required", field="record")
    record = load(document["record"], "record")
    holder = document.get("holder_jwk")
    if holder is not None and not isinstance(holder, dict):
        raise RecordError(ReasonCode.FIELD_INVALID, "holder_jwk must be a JWK object", field="holder_jwk")
    paper = document.get("paper", True)
    if not isinstance(paper, bool):
        raise RecordError(ReasonCode.FIELD_INVALID, "paper must be true or false", field="paper")
    return record, holder, paper


def issue_group(jobs: list[IssueJob], *, store: ServiceStore, issuer: Issuer, load: Callable[[Any, str], Any],
                status_for: Callable[[ReasonCode], int], on_issued: Callable[[int], None]) -> None:  # fmt: skip
    """Run a group (in a writer thread): reserve every key, issue, store every answer; set each job's answer."""
    reserved = _reserve(jobs, store)
    parsed: list[_Parsed] = []
    for job in reserved:
        try:
            parsed.append((job, *parse_issue(job.document, load)))
        except CivicCertError as exc:
            job.error = exc
    creds = _issue(parsed, issuer)
    done: list[Finished] = []
    abandon: list[tuple[str, str]] = []
    for job in reserved:
        cred = creds.get(id(job))
        who = job.who
        if cred is not None:
            body: dict[str, Any] = {"credential": cred.to_dict()}
            data = json_bytes(body)
            note = AuditNote(who.client_id, who.role, "issue", (cred.id,), "ok")
            done.append(Finished(who.client_id, job.key, 201, body, note, data.decode()))
            job.response = json_response(body, 201, data=data)
        elif isinstance(job.error, CivicCertError) and status_for(job.error.code) < 500:
            body = {"code": job.error.code.value, "field": job.error.field, "message": job.error.message}
            done.append(Finished(who.client_id, job.key, status_for(job.error.code), body))
        else:
            abandon.append((who.client_id, job.key))  # nothing was done: a retry may try again
    try:
        store.finish_many(done)  # durable before any 201 leaves
    except BaseException as exc:
        for job in reserved:
            if job.response is not None:
                job.response, job.error = None, exc
        raise
    on_issued(len(creds))
    if abandon:
        try:
            store.abandon_many(abandon)
        except CivicCertError:  # the reservations are taken over once stale (ServiceStore): retries still work
            log_event("abandon_failed", level=30, requests=len(abandon))


def _reserve(jobs: list[IssueJob], store: ServiceStore) -> list[IssueJob]:
    """The jobs whose key this group now holds; the others get their stored answer or 409/422."""
    stored = store.begin_many([(job.who.client_id, job.key, job.digest) for job in jobs])
    reserved = []
    for job, prior in zip(jobs, stored, strict=True):
        if prior is None:
            reserved.append(job)
        elif prior.request_hash != job.digest:
            job.error = ServiceError(ReasonCode.IDEMPOTENCY_KEY_REUSED, "this key was used for another request",
                                     field="idempotency-key")  # fmt: skip
        elif prior.status is None:
            job.error = ServiceError(ReasonCode.IDEMPOTENCY_IN_PROGRESS, "a request with this key is in progress",
                                     field="idempotency-key")  # fmt: skip
        else:
            job.response = json_response(prior.body, prior.status, {"Idempotent-Replayed": "true"})
    return reserved


_Parsed = tuple[IssueJob, Any, dict[str, Any] | None, bool]  # job, record, holder JWK, paper


def _issue(parsed: list[_Parsed], issuer: Issuer) -> dict[int, CredentialFile]:
    """Credentials by ``id(job)``: those without a holder key in one ``issue_many`` per paper flag (one journal
    commit), one by one when that refuses (so a bad record fails alone) and for holder-bound credentials."""
    creds: dict[int, CredentialFile] = {}
    ours = (issuer.config.municipality_code, issuer.config.municipality_name)
    groupable = [item for item in parsed if item[2] is None
                 and (item[1].municipality.code, item[1].municipality.name) == ours]  # fmt: skip
    grouped = {id(item[0]) for item in groupable}
    single = [item for item in parsed if id(item[0]) not in grouped]  # refused alone, before any status allocation
    for paper in (True, False):
        group = [item for item in groupable if item[3] is paper]
        if len(group) == 1:
            single += group
            continue
        if not group:
            continue
        try:
            files = list(issuer.issue_many([item[1] for item in group], paper=paper, chunk=len(group)))
        except Exception:
            single += group
            continue
        creds.update({id(item[0]): cred for item, cred in zip(group, files, strict=True)})
    for job, record, holder, paper in single:
        try:
            creds[id(job)] = issuer.issue(record, holder_jwk=holder, paper=paper)
        except Exception as exc:
            job.error = exc
    return creds
