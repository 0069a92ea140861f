"""The request's session (``reengage.db.session``): one commit when the handler returns,
a rollback when it raises, the commit before the answer is sent (a failed commit is the
answer), and the writes of an answer that keeps them. On the real databases, through a
small app of its own (the routes below exist only here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage import clock
from reengage.db.engine import make_sessionmaker
from reengage.db.session import KeepsWrites, SessionDep
from reengage.models import Org


class Redirected(KeepsWrites):
    pass


def _org(org_id: str) -> Org:
    return Org(id=org_id, name="Session test", settings={}, created_at=clock.now())


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.sessions = make_sessionmaker(engine)

    @app.post("/write/{org_id}")
    def write(org_id: str, session: SessionDep) -> dict[str, str]:
        session.add(_org(org_id))
        return {"written": org_id}

    @app.post("/write-then-fail/{org_id}")
    def write_then_fail(org_id: str, session: SessionDep) -> None:
        session.add(_org(org_id))
        session.flush()
        raise HTTPException(400, "refused after writing")

    @app.post("/write-then-redirect/{org_id}")
    def write_then_redirect(org_id: str, session: SessionDep) -> None:
        session.add(_org(org_id))
        raise Redirected()

    @app.exception_handler(Redirected)
    def redirected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"redirected": True}, status_code=303)

    with TestClient(app) as client:
        yield client


def _exists(engine: Engine, org_id: str) -> bool:
    with make_sessionmaker(engine)() as session:
        return session.get(Org, org_id) is not None


def _new_id() -> str:
    return f"org_{uuid.uuid4().hex[:12]}"


def test_a_handler_that_returns_is_committed_once_before_its_answer(
    client: TestClient, engine: Engine
) -> None:
    org_id = _new_id()
    r = client.post(f"/write/{org_id}")
    assert (r.status_code, r.json()) == (200, {"written": org_id})
    assert _exists(engine, org_id)


def test_a_handler_that_raises_after_writing_leaves_nothing(
    client: TestClient, engine: Engine
) -> None:
    org_id = _new_id()
    r = client.post(f"/write-then-fail/{org_id}")
    assert (r.status_code, r.json()) == (400, {"detail": "refused after writing"})
    assert not _exists(engine, org_id)


def test_a_commit_that_fails_is_the_answer_never_a_200(client: TestClient, engine: Engine) -> None:
    """The second write of one new id fails at commit (the insert is only flushed then):
    the client hears 409, not the handler's 200, and the first write stands."""
    org_id = _new_id()
    assert client.post(f"/write/{org_id}").status_code == 200
    r = client.post(f"/write/{org_id}")
    assert (r.status_code, r.json()) == (
        409,
        {"detail": "a concurrent request wrote the same record; send this one again"},
    )
    assert _exists(engine, org_id)


def test_an_answer_that_keeps_writes_commits_them(client: TestClient, engine: Engine) -> None:
    org_id = _new_id()
    r = client.post(f"/write-then-redirect/{org_id}")
    assert (r.status_code, r.json()) == (303, {"redirected": True})
    assert _exists(engine, org_id)
