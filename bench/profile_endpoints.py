"""Where an analytics request spends its time: cProfile over the real app, in process.

For a database that ``bench/run.py --keep`` left behind (its org ``org_bench``): each
named endpoint is asked ``--runs`` times through the app (middleware, auth, the session's
commit, the response's JSON) with ``as_of`` = the benchmark's, under cProfile, and the
functions with the most cumulative time are printed. A new admin key is made for the run.
FastAPI runs sync endpoints and dependencies in a thread pool, out of cProfile's sight, so
here they run inline, in the one thread that drives the ASGI app.

    .venv/bin/python bench/profile_endpoints.py postgresql://postgres@127.0.0.1:5432/NAME \\
        --only "trends 1y,risk_level=critical" --runs 20
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reengage.app import create_app
from reengage.auth import service as auth_service
from reengage.config import Settings
from reengage.db.engine import make_engine, make_sessionmaker
from run import AS_OF_PARAM, ENDPOINTS, ORG


async def _inline(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the kept database's URL")
    parser.add_argument("--only", default="", help="comma list of words in endpoint names")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--filter", default="", help="only functions whose path has this")
    args = parser.parse_args()
    url = args.url.replace("postgresql://", "postgresql+psycopg://")
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        _, key = auth_service.create_key(session, ORG, "admin", "profile")
        session.commit()
    for module in (fastapi.routing, fastapi.dependencies.utils):
        setattr(module, "run_in_threadpool", _inline)  # noqa: B010 (not exported)
    app = create_app(Settings(database_url=url), engine)
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")

    def get(target: str) -> httpx.Response:
        return loop.run_until_complete(client.get(target, headers=headers))

    headers = {"Authorization": f"Bearer {key}"}
    words = [w.strip() for w in args.only.split(",") if w.strip()]
    for name, path, query in ENDPOINTS:
        if words and not any(w in name for w in words):
            continue
        deep = "5000"
        target = f"/api/v1/reengagement/{ORG}/{path}?as_of={AS_OF_PARAM}"
        if query:
            target += "&" + query.format(deep=deep)
        for _ in range(2):  # warm
            assert get(target).status_code == 200
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for _ in range(args.runs):
            get(target)
        profile.disable()
        mean = (time.perf_counter() - started) / args.runs * 1000
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
        stats.print_stats(args.filter, args.top)
        print(f"## {name}: {mean:.1f} ms a request (profiled)\n{out.getvalue()}")


if __name__ == "__main__":
    main()
