"""Unauthenticated routes: /healthz, /schedulez, /config (§1.2)."""

from __future__ import annotations

from .app import App
from .httpio import Request, Response, json_resp
from .router import Router

VERSION = "v0.92.2"


def healthz(app: App, req: Request) -> Response:
    return json_resp(200, {"status": "ok"})


def config(app: App, req: Request) -> Response:
    return json_resp(
        200,
        {
            "version": VERSION,
            "instance": app.config.instance,
            "commit_hash": "fbab9b80a2",
            "build_date": "2026-08-21T14:36:19Z",
            "build_type": "opensource",
            "meta_org": "_meta",
            "default_fts_keys": ["log", "message", "msg", "content", "data", "body", "json", "error"],
            "default_secondary_index_fields": [],
            "default_quick_mode_fields": [],
            "default_functions": [],
            "sql_reserved_keywords": [],
            "sql_base64_enabled": False,
            "timestamp_column": "_timestamp",
            "query_default_limit": 1000,
            "max_dashboard_series": 100,
            "sso_enabled": False,
            "native_login_enabled": True,
            "service_account_enabled": True,
            "rbac_enabled": False,
            "super_cluster_enabled": False,
            "streaming_enabled": False,
            "histogram_enabled": True,
            "ai_enabled": False,
            "incidents_enabled": False,
            "composite_alerts_available": False,
            "synthetics_enabled": False,
            "data_retention_days": 3650,
            "max_query_range": 0,
            "min_auto_refresh_interval": 5,
            "ingestion_url": "",
            "web_url": app.config.web_url,
            "rum": {"enabled": False},
        },
    )


def register(r: Router) -> None:
    r.add("GET", "/healthz", healthz, auth=False)
    r.add("GET", "/schedulez", healthz, auth=False)
    r.add("GET", "/config", config, auth=False)
