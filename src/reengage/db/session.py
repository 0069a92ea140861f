"""The request's unit of work: one session per request, committed once when its handler
returns and rolled back when it raises (Polar's ``get_db_session``). Endpoints, services and
middleware never commit; the CLI's commands, the quickstart and the demo loader are their
own units of work and commit themselves.

The commit runs when the path operation function has returned and before the response is
sent (FastAPI's ``Depends(scope="function")``), so that a commit that fails becomes an
error answer, never a 200 whose writes were lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reengage.errors import database_trouble


class KeepsWrites(Exception):
    """An exception that answers the request (a redirect to sign in) after writes that must
    stand: the session commits them, then the exception goes on to its handler."""


def commit(session: Session) -> None:
    """Commit, turning a lost race between two writers of the same new id into a clean 409
    (the same answer as a race lost at the insert itself: ``errors.database_trouble``)."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        trouble = database_trouble(exc)
        assert trouble is not None
        raise HTTPException(trouble.status, trouble.message) from None


def request_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessions()
    try:
        yield session
    except KeepsWrites:
        commit(session)
        raise
    except BaseException:
        session.rollback()
        raise
    else:
        commit(session)
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(request_session, scope="function")]
