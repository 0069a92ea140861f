"""The API docs work offline: /docs and everything it loads come from the app itself."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

RECORD_ROUTES = {
    "/api/v1/orgs/{org_id}/patients/{record_id}": {"put", "get"},
    "/api/v1/orgs/{org_id}/patients": {"get"},
    "/api/v1/orgs/{org_id}/appointments/{record_id}": {"put", "get"},
    "/api/v1/orgs/{org_id}/appointments": {"get"},
    "/api/v1/orgs/{org_id}/communications/{record_id}": {"put", "get"},
    "/api/v1/orgs/{org_id}/communications": {"get"},
    "/api/v1/orgs/{org_id}/followups/{record_id}": {"put", "get"},
    "/api/v1/orgs/{org_id}/followups": {"get"},
    "/api/v1/orgs/{org_id}/batch": {"post"},
    "/api/v1/orgs/{org_id}/settings": {"get", "patch"},
}


def test_docs_page_loads_everything_from_the_app(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "SwaggerUIBundle" in html
    # No absolute URL at all: nothing is fetched from another host.
    assert re.findall(r"https?://[^\s\"'<>]*", html) == []

    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert len(assets) >= 3  # the bundle's script, its stylesheet, the favicon
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        # Same host: a path, not "//host/..." (which the browser would fetch from elsewhere).
        assert urlsplit(asset).netloc == "" and asset.startswith("/"), asset
        loaded = client.get(asset)
        assert loaded.status_code == 200, asset
        assert loaded.content, asset
        kind = {"js": "javascript", "css": "text/css", "png": "image/png"}[asset.rsplit(".", 1)[1]]
        assert kind in loaded.headers["content-type"], (asset, loaded.headers["content-type"])
    assert "'/openapi.json'" in html or '"/openapi.json"' in html


def test_openapi_lists_record_routes_and_bearer_scheme(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    paths = spec["paths"]
    for path, methods in RECORD_ROUTES.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    schemes = spec["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s == {**s, "type": "http", "scheme": "bearer"}]
    assert len(bearer) == 1
    # Every API operation declares that scheme.
    for path, operations in paths.items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            assert {bearer[0]: []} in operation.get("security", []), (method, path)
    assert "/docs" not in paths and "/" not in paths
