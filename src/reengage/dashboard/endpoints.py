"""The staff dashboard's pages. Thin: check the session, call the same services as the API,
hand the results to a template. No rule of the contract is computed here.

Every page needs a session (``/sign-in`` excepted); a ``viewer`` sees the aggregate pages
only; every form that changes something carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.types import Scope as AsgiScope

from reengage import audit, clock
from reengage.alerts import repository as alerts_repository
from reengage.alerts import service as alerts_service
from reengage.auth.throttle import Throttled
from reengage.checkins import repository as checkins_repository
from reengage.checkins import service as checkins
from reengage.dashboard import actions, queries, sessions, views
from reengage.dashboard.sessions import SignedIn, SignInError
from reengage.db.session import KeepsWrites, SessionDep
from reengage.domain import alerts as alert_rules
from reengage.domain import checkins as checkin_rules
from reengage.domain import provider_events
from reengage.domain.performance import TIMEFRAMES
from reengage.domain.scope import Scope
from reengage.domain.trends import METRICS, PERIODS
from reengage.outreach import kpis
from reengage.outreach import service as outreach
from reengage.risk import service, week_target

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(views.FILTERS)
templates.env.globals.update(views.GLOBALS)
COOKIE = "reengage_session"
SIGN_IN_COOKIE = "reengage_sign_in"

router = APIRouter(include_in_schema=False)
DbSession = SessionDep


class PageError(Exception):
    """A refusal shown as a page (404, 403), not as the API's JSON."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    user = getattr(request.state, "dashboard_user", None)
    return render(
        request, "error.html", user, status_code=exc.status_code, message=exc.message, page=None
    )


def failure_page(scope: AsgiScope, status_code: int, message: str) -> Response:
    """The page for a request the app could not answer (the database down: 503), in the
    dashboard's own look rather than the API's JSON. Needs nothing from the database."""
    return render(
        Request(scope), "error.html", None, status_code=status_code, message=message, page=None
    )


class SignInRequired(KeepsWrites):
    """Raised by ``signed_in``; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str, clear_cookie: bool) -> None:
        self.next_path = next_path
        self.clear_cookie = clear_cookie


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    response = RedirectResponse(f"/sign-in?next={quote(exc.next_path)}", status_code=303)
    if exc.clear_cookie:
        response.delete_cookie(COOKIE, path="/")
    return response


def signed_in(request: Request, session: DbSession) -> SignedIn:
    token = request.cookies.get(COOKIE)
    user = sessions.resolve(session, token)  # writes its last-seen time, or its removal
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target if request.method == "GET" else "/", token is not None)
    request.state.principal = user.principal
    request.state.dashboard_user = user
    return user


User = Annotated[SignedIn, Depends(signed_in)]


def patient_reader(user: User) -> SignedIn:
    if not user.sees_patients:
        raise PageError(403, "A viewer key shows the aggregate pages only.")
    return user


def writer(user: User) -> SignedIn:
    if not user.may_write:
        raise PageError(403, "This key may not record outreach.")
    return user


PatientReader = Annotated[SignedIn, Depends(patient_reader)]
Writer = Annotated[SignedIn, Depends(writer)]


def check_csrf(user: SignedIn, token: str) -> None:
    if not hmac.compare_digest(user.csrf_token, token):
        raise PageError(403, "This form has expired: reload the page and try again.")


def render(
    request: Request, name: str, user: SignedIn | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, name, {"user": user, **context}, status_code=status_code
    )
    views.protect(response)
    return response


def _scope(session: Session, user: SignedIn) -> Scope:
    return service.scope(session, user.principal.org_id, None)


# --- signing in and out -------------------------------------------------------------------


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, session: DbSession, next: str = "/") -> Response:
    if sessions.resolve(session, request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(views.safe_next(next), status_code=303)
    signed_out = request.query_params.get("signed_out") == "1"
    return _sign_in_form(request, 200, next, signed_out=signed_out)


def _sign_in_form(request: Request, status_code: int, next: str, **context: Any) -> Response:
    """The sign-in form, with a fresh sign-in token in a cookie and in the form.

    Login CSRF: without it, another site could post its own key to /sign-in from the
    user's browser and have them work, unknowing, in the attacker's org. A form posted
    from elsewhere has no way to read the cookie, so its token cannot match.
    """
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        None,
        status_code=status_code,
        next=views.safe_next(next),
        sign_in_token=token,
        **context,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/sign-in",
        max_age=3600,
    )
    return response


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    session: DbSession,
    api_key: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    sign_in_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, sign_in_token):
        return _sign_in_form(
            request, 403, next, error="This form has expired: sign in again below."
        )
    try:
        _, token = sessions.sign_in(
            session, api_key, audit.client_address(request), request.app.state.key_failures
        )
    except Throttled as throttled:
        response = _sign_in_form(
            request, 429, next, error=f"Sign-in refused: {throttled.message()}."
        )
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    except SignInError as exc:
        session.rollback()
        return _sign_in_form(request, 401, next, error=str(exc))
    response = RedirectResponse(views.safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(
        SIGN_IN_COOKIE,
        path="/sign-in",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/sign-out")
def sign_out(
    session: DbSession, user: User, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    check_csrf(user, csrf_token)
    sessions.sign_out(session, user)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- pages ----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession, user: User) -> Response:
    where = _scope(session, user)
    metrics = service.risk_metrics(session, where)
    cards = outreach.overview(session, where)
    tiers = views.tier_rows(metrics.risk_summary, where.settings)
    measured = kpis.kpis(session, where)
    return render(
        request,
        "home.html",
        user,
        page="home",
        metrics=metrics,
        cards=cards,
        tiers=tiers,
        tier_bar=views.tier_bar(tiers),
        alerts=views.alert_rows(metrics.alerts),
        kpis=measured,
        kpi_rows=views.kpi_rows(measured),
    )


@router.get("/patients", response_class=HTMLResponse)
def call_list(request: Request, session: DbSession, user: PatientReader) -> Response:
    query = views.ListQuery.parse(request.query_params)
    where = _scope(session, user)
    if query.errors:
        return render(
            request,
            "patients.html",
            user,
            status_code=422,
            page="patients",
            query=query,
            result=None,
        )
    ask = (
        query.risk_level,
        query.action_required,
        query.sort_by,
        query.limit,
        query.offset,
        query.action_priority,
    )
    if query.target == "this_week":
        result = week_target.listed(session, where, *ask)
    else:
        result = service.prioritized(session, where, *ask)
    audit.record_access(session, request, user.principal, "read", [p.id for p in result.patients])
    return render(request, "patients.html", user, page="patients", query=query, result=result)


def _patient_page(
    request: Request,
    session: Session,
    user: SignedIn,
    patient_id: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    where = _scope(session, user)
    found = queries.patient_records(session, where.org_id, patient_id)
    entry = service.patient_entry(session, where, patient_id)
    if found is None or entry is None:
        raise PageError(404, "No such patient in this clinic.")
    audit.record_access(session, request, user.principal, "read", [patient_id])
    return render(
        request,
        "patient.html",
        user,
        status_code=status_code,
        page="patients",
        records=found,
        entry=entry,
        zone=where.settings.zone(),
        outcomes=actions.OUTCOMES,
        open_followups=[f for f in found.followups if f.completed_at is None],
        answerable=provider_events.answerable(found.communications),
        today=where.today,
        shown_at=where.shown(),
        chosen=context.pop("chosen", {}),
        back=views.safe_next(request.query_params.get("back", "/patients")),
        done=request.query_params.get("done"),
        **context,
    )


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    request: Request, session: DbSession, user: PatientReader, patient_id: str
) -> Response:
    return _patient_page(request, session, user, patient_id)


def _after_action(
    request: Request,
    session: Session,
    user: SignedIn,
    patient_id: str,
    csrf_token: str,
    back: str,
    act: Any,
    chosen: dict[str, str] | None = None,
) -> Response:
    """Check the form's token, do ``act(where, patient)`` in this request's transaction,
    then show the patient again (the outcome as a notice, or the refusal and its reason,
    with the form as the user filled it: ``chosen``)."""
    check_csrf(user, csrf_token)
    where = _scope(session, user)
    patient = queries.patient(session, where.org_id, patient_id)
    if patient is None:
        raise PageError(404, "No such patient in this clinic.")
    try:
        recorded = act(where, patient)
    except actions.ActionError as exc:
        session.rollback()
        return _patient_page(
            request,
            session,
            user,
            patient_id,
            status_code=422,
            error=exc.reason,
            field=exc.field,
            chosen=chosen or {},
        )
    audit.record_access(session, request, user.principal, "write", [patient_id])
    params = urlencode({"done": recorded.message, "back": views.safe_next(back)})
    return RedirectResponse(f"/patients/{quote(patient_id)}?{params}", status_code=303)


@router.post("/patients/{patient_id}/outreach")
def record_outreach(
    request: Request,
    session: DbSession,
    user: Writer,
    patient_id: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    outcome: Annotated[str, Form(max_length=40)] = "",
    reply_to: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/patients",
) -> Response:
    return _after_action(
        request,
        session,
        user,
        patient_id,
        csrf_token,
        back,
        lambda where, patient: actions.record_outreach(
            session, where.org_id, patient, outcome, reply_to or None, where.settings.zone()
        ),
        {"outcome": outcome, "reply_to": reply_to},
    )


@router.post("/patients/{patient_id}/followups")
def schedule_followup(
    request: Request,
    session: DbSession,
    user: Writer,
    patient_id: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    due_date: Annotated[str, Form(max_length=20)] = "",
    due_time: Annotated[str, Form(max_length=10)] = "09:00",
    reason: Annotated[str, Form(max_length=4000)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/patients",
) -> Response:
    return _after_action(
        request,
        session,
        user,
        patient_id,
        csrf_token,
        back,
        lambda where, patient: actions.schedule_followup(
            session, where.org_id, patient, due_date, due_time, reason, where.settings.zone()
        ),
        {"due_date": due_date, "due_time": due_time, "reason": reason},
    )


@router.post("/patients/{patient_id}/followups/{followup_id}/done")
def complete_followup(
    request: Request,
    session: DbSession,
    user: Writer,
    patient_id: str,
    followup_id: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/patients",
) -> Response:
    return _after_action(
        request,
        session,
        user,
        patient_id,
        csrf_token,
        back,
        lambda where, patient: actions.complete_followup(
            session, where.org_id, patient, followup_id
        ),
    )


# --- the alert inbox --------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
def alert_inbox(request: Request, session: DbSession, user: User) -> Response:
    """Open alerts, newest first (``?rule=`` filters, ``?state=resolved`` shows the resolved
    ones); a viewer sees the counts per rule only."""
    org_id = user.principal.org_id
    counts = alerts_service.counts(session, org_id)
    rule = request.query_params.get("rule") or None
    state = request.query_params.get("state") or None
    if rule is not None and rule not in alert_rules.BY_NAME:
        raise PageError(404, "No such alert rule.")
    if state not in (None, "resolved"):
        raise PageError(404, "No such alert state.")
    rows: list[Any] = []
    names: dict[str, str] = {}
    total = 0
    if user.sees_patients:
        states = ["resolved"] if state else list(alerts_repository.OPEN_STATES)
        total, rows = alerts_repository.listed(
            session,
            org_id,
            states=states,
            rules=[rule] if rule else None,
            patient_id=None,
            limit=200,
            offset=0,
        )
        ids = [a.patient_id for a in rows if a.patient_id]
        names = queries.patient_names(session, org_id, ids)
        audit.record_access(session, request, user.principal, "read", ids)
    where = _scope(session, user)
    return render(
        request,
        "alerts.html",
        user,
        page="alerts",
        counts=counts,
        rules=alert_rules.RULES,
        rule=rule,
        state=state,
        alerts=rows,
        total=total,
        names=names,
        zone=where.settings.zone(),
        shown_at=where.shown(),
        done=request.query_params.get("done"),
    )


@router.post("/alerts/{alert_id}/{action}")
def act_on_alert(
    request: Request,
    session: DbSession,
    user: User,
    alert_id: str,
    action: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/alerts",
) -> Response:
    check_csrf(user, csrf_token)
    if not user.may_act_on_alerts:
        raise PageError(403, "This key may not acknowledge or resolve alerts.")
    do = {"acknowledge": alerts_service.acknowledge, "resolve": alerts_service.resolve}.get(action)
    if do is None:
        raise PageError(404, "No such action.")
    try:
        alert = do(session, user.principal.org_id, alert_id, user.principal.key_id, clock.now())
    except LookupError:
        raise PageError(404, "No such alert in this clinic.") from None
    except alerts_service.AlertStateError as exc:
        session.rollback()
        return _back_to(back, str(exc))
    short = "ack" if action == "acknowledge" else "resolve"
    audit.record_access(
        session,
        request,
        user.principal,
        f"alert_{short}",
        [alert.patient_id] if alert.patient_id else [],
    )
    return _back_to(back, "Acknowledged." if action == "acknowledge" else "Resolved.")


def _back_to(back: str, done: str) -> Response:
    target = views.safe_next(back).split("?done=")[0].split("&done=")[0]
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}{urlencode({'done': done})}", status_code=303)


@dataclass(frozen=True)
class CampaignPanel:
    """One campaign on the check-ins page: today's batch (kept, or the dry run of it before
    it is prepared), each patient's row, and the uplift."""

    id: str
    settings: checkin_rules.Campaign
    batch: Any  # CheckinBatch | None
    rows: list[dict[str, Any]]
    counts: dict[str, int]
    report: checkins.Report


def _campaign_panel(
    session: Session, org_id: str, row: Any, user: SignedIn, now: Any, today: Any
) -> CampaignPanel:
    settings = checkins.settings_of(row)
    kept = checkins_repository.batch_of_day(session, org_id, row.id, today)
    rows: list[dict[str, Any]] = []
    decisions: list[tuple[checkin_rules.Decision, str | None]]
    plan: checkins.Plan | None
    if kept is not None:
        messages = checkins_repository.messages(session, org_id, kept.id)
        decisions = [
            (checkin_rules.Decision(m.patient_id, m.outcome, m.channel, m.reason), m.state)  # type: ignore[arg-type]
            for m in messages
        ]
        plan = checkins.words_for(session, org_id, row, [m.patient_id for m in messages])
    else:
        plan = checkins.plan(session, org_id, row, now)
        decisions = [(d, None) for d in plan.decisions]
    counts = {
        k: sum(1 for d, _ in decisions if d.outcome == k) for k in ("send", "holdout", "skip")
    }
    if user.sees_patients:
        for decision, state in decisions[:CHECKIN_ROWS]:
            words = plan.message(decision) if plan and decision.outcome == "send" else None
            rows.append(
                {
                    "patient_id": decision.patient_id,
                    "outcome": decision.outcome,
                    "channel": decision.channel,
                    "reason": checkin_rules.SKIP_REASONS.get(decision.reason or "", ""),
                    "state": state,
                    "text": words.text if words else None,
                    "subject": words.subject if words else None,
                }
            )
    return CampaignPanel(
        row.id, settings, kept, rows, counts, checkins.report(session, org_id, row.id, now)
    )


CHECKIN_ROWS = 200


@router.get("/checkins", response_class=HTMLResponse)
def checkins_page(request: Request, session: DbSession, user: User) -> Response:
    """Each campaign's batch of today, to approve or cancel (staff and admins), and what the
    check-ins add against the held-out patients; a viewer sees the counts only."""
    org_id = user.principal.org_id
    where = _scope(session, user)
    panels = [
        _campaign_panel(session, org_id, row, user, where.as_of, where.today)
        for row in checkins_repository.campaigns(session, org_id)
    ]
    ids = [r["patient_id"] for panel in panels for r in panel.rows]
    names = queries.patient_names(session, org_id, ids) if ids else {}
    if ids:
        audit.record_access(session, request, user.principal, "read", ids)
    return render(
        request,
        "checkins.html",
        user,
        page="checkins",
        panels=panels,
        names=names,
        zone=where.settings.zone(),
        shown_at=where.shown(),
        uplift_text=checkin_rules.uplift_message,
        done=request.query_params.get("done"),
        shown_rows=CHECKIN_ROWS,
    )


@router.post("/checkins/batches/{batch_id}/{action}")
def act_on_batch(
    request: Request,
    session: DbSession,
    user: User,
    batch_id: str,
    action: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(user, csrf_token)
    if not user.may_approve_checkins:
        raise PageError(403, "This key may not approve or cancel check-ins.")
    org_id = user.principal.org_id
    batch = checkins_repository.batch(session, org_id, batch_id)
    if batch is None or action not in ("approve", "cancel"):
        raise PageError(404, "No such batch in this clinic.")
    try:
        if action == "approve":
            checkins.approve(session, org_id, batch, user.principal.key_id)
        else:
            checkins.cancel(session, org_id, batch)
    except checkins.CampaignError as exc:
        session.rollback()
        return _back_to("/checkins", f"Not done: {exc}.")
    sent = [
        m.patient_id
        for m in checkins_repository.messages(session, org_id, batch_id)
        if m.outcome == "send"
    ]
    audit.record_access(session, request, user.principal, f"{action}_checkins", sent)
    return _back_to(
        "/checkins",
        "Approved: the messages go out within the sending hours."
        if action == "approve"
        else "Cancelled: nothing more of it is sent.",
    )


@router.get("/performance", response_class=HTMLResponse)
def performance_page(
    request: Request, session: DbSession, user: User, timeframe: str = "last_30_days"
) -> Response:
    if timeframe not in TIMEFRAMES:
        timeframe = "last_30_days"
    result = outreach.performance(session, _scope(session, user), timeframe)
    return render(
        request,
        "performance.html",
        user,
        page="performance",
        result=result,
        timeframes=views.TIMEFRAME_LABELS,
        funnels=views.channel_funnels(result),
    )


@router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request, session: DbSession, user: User, period: str = "30d") -> Response:
    if period not in PERIODS:
        period = "30d"
    result = outreach.trends(session, _scope(session, user), period, list(METRICS))
    return render(
        request,
        "trends.html",
        user,
        page="trends",
        result=result,
        periods=views.PERIOD_LABELS,
        charts=views.trend_charts(result),
        channels=views.channel_rows(result),
    )
