"""Routes for the four record kinds and the batch. Thin: parse, authorize, call, shape (the
request's session commits: ``db.session``).

The per-kind routes are built by one factory so that every kind behaves identically.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from reengage import audit
from reengage.auth.dependencies import OrgId, PermissionFirst, require
from reengage.auth.principal import Principal
from reengage.db.session import SessionDep
from reengage.errors import Problem, RecordValidationError
from reengage.query_params import only_params
from reengage.records import service
from reengage.records.kinds import KINDS, RecordKind
from reengage.records.schemas import ID_PATTERN, BatchIn, BatchOut, Page
from reengage.wording import with_article

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["records"], route_class=PermissionFirst)

Writer = Annotated[Principal, Depends(require("write"))]
Reader = Annotated[Principal, Depends(require("read_patients"))]
RecordIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="The client-chosen record id")]
# Far past any org's size, and well inside the databases' 64-bit OFFSET (an unbounded one
# made a 500 of ?offset=100000000000000000000).
MAX_OFFSET = 1_000_000_000


def _patient_ids(kind: RecordKind, rows: list[Any]) -> list[str]:
    return [row.id if kind.name == "patients" else row.patient_id for row in rows]


def _add_kind_routes(kind: RecordKind) -> None:
    schema: Any = kind.schema
    out: Any = kind.out

    def put_record(
        org_id: OrgId,
        record_id: RecordIdPath,
        body: schema,
        request: Request,
        response: Response,
        session: SessionDep,
        principal: Writer,
    ) -> Any:
        created = service.upsert_one(session, org_id, kind, record_id, body)
        row = service.get_record(session, org_id, kind, record_id)
        audit.record_access(session, request, principal, "write", _patient_ids(kind, [row]))
        response.status_code = 201 if created else 200
        return out.model_validate(row)

    def get_record(
        org_id: OrgId,
        record_id: RecordIdPath,
        request: Request,
        session: SessionDep,
        principal: Reader,
    ) -> Any:
        row = service.get_record(session, org_id, kind, record_id)
        if row is None:
            raise HTTPException(404, f"no {kind.singular} '{record_id}' in this org")
        audit.record_access(session, request, principal, "read", _patient_ids(kind, [row]))
        return out.model_validate(row)

    def list_records(
        org_id: OrgId,
        request: Request,
        session: SessionDep,
        principal: Reader,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        patient_id: Annotated[
            str | None,
            Query(pattern=ID_PATTERN, include_in_schema=kind.references_patient),
        ] = None,
    ) -> Page:
        if patient_id is not None and not kind.references_patient:
            # The same shape as every other 422, so a client can read every refusal one way.
            raise RecordValidationError(
                [
                    Problem(
                        ("query", "patient_id"),
                        "filters appointments, communications and followups, not patients",
                        "not_a_filter",
                    )
                ]
            )
        rows, total = service.list_records(session, org_id, kind, limit, offset, patient_id)
        audit.record_access(session, request, principal, "read", _patient_ids(kind, rows))
        items = [out.model_validate(row).model_dump(mode="json") for row in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    path = f"/{kind.name}/{{record_id}}"
    router.add_api_route(
        path,
        put_record,
        methods=["PUT"],
        response_model=out,
        status_code=200,
        summary=f"Create or update {with_article(kind.singular)}",
        responses={201: {"description": "Created", "model": out}},
        name=f"put_{kind.singular}",
    )
    router.add_api_route(
        path,
        get_record,
        methods=["GET"],
        response_model=out,
        summary=f"Read one {kind.singular}",
        name=f"get_{kind.singular}",
    )
    router.add_api_route(
        f"/{kind.name}",
        list_records,
        methods=["GET"],
        response_model=Page,
        summary=f"List {kind.name}, ordered by id",
        name=f"list_{kind.name}",
        # patient_id stays allowed for patients too: its own refusal says what it filters.
        dependencies=[Depends(only_params("limit", "offset", "patient_id"))],
    )


for _kind in KINDS:
    _add_kind_routes(_kind)


@router.post(
    "/batch", response_model=BatchOut, summary="Upsert up to 10,000 records, all or nothing"
)
def post_batch(
    org_id: OrgId, body: BatchIn, request: Request, session: SessionDep, principal: Writer
) -> BatchOut:
    result = service.upsert_batch(session, org_id, body)
    audit.record_access(
        session,
        request,
        principal,
        "write",
        result.touched_patient_ids,
        count=sum(len(getattr(body, kind.name)) for kind in KINDS),
    )
    return BatchOut(**result.counts)
