"""Who may use the Studio: the one-time login link, the session cookie, CSRF on every state
change, loopback Host names only, and strict headers on every response."""

from __future__ import annotations

import re

import httpx
from starlette.routing import Route

from .conftest import RunningStudio

PAGES = ["/", "/connectors/new", "/actions/new", "/copilot"]


def post_routes(studio: RunningStudio) -> list[Route]:
    return [r for r in studio.server.app.routes if isinstance(r, Route) and "POST" in r.methods]


def concrete(path: str) -> str:
    return path.replace("{name}", "anything")


def test_requests_without_a_session_are_refused(studio: RunningStudio) -> None:
    with httpx.Client(base_url=studio.url) as client:
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 401, path
            assert "Sign in with your link" in response.text
            assert "lakegate studio" in response.text
        for route in post_routes(studio):
            response = client.post(concrete(route.path), data={"name": "x"})
            assert response.status_code == 401, route.path
        # A made-up session cookie is no session.
        client.cookies.set("lakegate_studio", "forged")
        assert client.get("/").status_code == 401
        # The static assets (no data in them) are public, so the refusal page is styled.
        assert client.get("/static/studio.css").status_code == 200
    assert not studio.project.exists()


def test_the_login_link_works_once_and_sets_a_strict_cookie(studio: RunningStudio) -> None:
    link = studio.login_url()
    with httpx.Client() as client:
        response = client.get(link)
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain-http loopback: a Secure cookie would never return
        assert client.get(f"{studio.url}/").status_code == 200
    with httpx.Client() as stranger:
        assert stranger.get(link).status_code == 401  # spent
        assert stranger.get(f"{studio.url}/login?token=guess").status_code == 401
        assert stranger.get(f"{studio.url}/login").status_code == 401


def test_every_state_change_needs_the_csrf_token(studio: RunningStudio) -> None:
    client = studio.client()
    token = studio.csrf(client)
    routes = post_routes(studio)
    assert {r.path for r in routes} >= {
        "/connectors/new",
        "/connectors/{name}",
        "/connectors/{name}/delete",
        "/actions/new",
        "/actions/{name}",
        "/actions/{name}/delete",
        "/copilot",
    }
    for route in routes:
        if getattr(route.endpoint, "bearer_only", False):  # studio --link: its key, no cookie
            refused = client.post(concrete(route.path), headers={"Authorization": "Bearer x"})
            assert refused.status_code == 401 and "login?token" not in refused.text
            continue
        assert getattr(route.endpoint, "csrf_protected", False), route.path
        path = concrete(route.path)
        data = {"name": "shop", "base_url": "https://shop.example.com", "auth_type": "none"}
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf_token": "wrong"}).status_code == 403
        wrong_header = {"X-CSRF-Token": "wrong"}
        assert client.post(path, data=data, headers=wrong_header).status_code == 403
    # Another site (or another local port) posting with the right token is refused too.
    foreign = {"Origin": "http://127.0.0.1:1"}
    response = client.post(
        "/copilot", data={"csrf_token": token, "profile": "admin"}, headers=foreign
    )
    assert response.status_code == 403
    assert response.headers["x-lakegate-refusal"] == "origin"
    assert "another site" in response.text
    assert "Send again" not in response.text  # a foreign request is never offered for replay
    assert not studio.project.exists()
    # `Origin: null` (what Chromium sends under a no-referrer policy, or privacy settings) with
    # the session's token is our own page: the Strict cookie already kept other sites out.
    response = client.post(
        "/copilot", data={"csrf_token": token, "profile": "readonly"}, headers={"Origin": "null"}
    )
    assert response.status_code == 303
    # With the token (as a field, or as the header htmx sends) the same requests go through.
    response = client.post("/copilot", data={"csrf_token": token, "profile": "operator"})
    assert response.status_code == 303
    assert "profile: operator" in studio.project.read_text()
    response = client.post("/copilot", data={"profile": "admin"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 303
    assert "profile: admin" in studio.project.read_text()


def test_only_loopback_host_names_are_served(studio: RunningStudio) -> None:
    client = studio.client()
    assert client.get("/", headers={"Host": f"localhost:{studio.server.port}"}).status_code == 200
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 must get nothing.
    response = client.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "connectors" not in response.text.lower().split("<main>")[-1]


def test_strict_headers_and_no_inline_code(studio: RunningStudio) -> None:
    client = studio.client()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        # same-origin: the login token never leaves in a Referer, and our own posts keep Origin.
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-content-type-options"] == "nosniff"
    refused = httpx.get(f"{studio.url}/")
    assert "content-security-policy" in refused.headers
    for body in studio.html:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), "inline script"
        assert not re.search(r"<style\b", body), "inline style element"
        assert not re.search(r"\sstyle=", body), "inline style attribute"
        assert not re.search(r"\son[a-z]+=", body), "inline event handler"


def test_unknown_names_and_a_broken_project_file_are_explained(studio: RunningStudio) -> None:
    client = studio.client()
    missing = client.get("/connectors/nope")
    assert missing.status_code == 404 and "There is no connector" in missing.text
    studio.project.write_text("connectors:\n  db:\n    base_url: ftp://x\n")
    broken = client.get("/")
    assert broken.status_code == 409
    assert "base_url" in broken.text and "Traceback" not in broken.text


def test_a_forged_form_from_another_port_is_neither_echoed_nor_offered_for_resending(
    studio: RunningStudio,
) -> None:
    """The attack: a page on another 127.0.0.1 port posts the connector form without a token,
    with only the token URL pointed at itself. It used to come back as "what you sent" with a
    button that saved it under this session's token."""
    client = studio.client()
    forged = {
        "name": "databricks",
        "base_url": "https://dbc-1.cloud.databricks.com",
        "auth_type": "oauth2",
        "token_url": "http://127.0.0.1:9/steal",
    }
    response = client.post("/connectors/new", data=forged, headers={"Origin": "http://127.0.0.1:9"})
    assert response.status_code == 403
    assert response.headers["x-lakegate-refusal"] == "origin"
    assert "Send again" not in response.text
    assert "127.0.0.1:9/steal" not in response.text and 'name="csrf_token"' not in response.text
    assert not studio.project.exists()
    # Our own page with a stale token (the case the resend is for) still gets it.
    response = client.post("/connectors/new", data={**forged, "csrf_token": "stale"})
    assert response.status_code == 403 and response.headers["x-lakegate-refusal"] == "stale"
    assert "Send again" in response.text and "127.0.0.1:9/steal" in response.text


def test_an_edit_that_moves_the_token_url_asks_for_the_secret_again(
    studio: RunningStudio,
) -> None:
    """A stored secret is bound to the origin it was entered for: an edit that points the
    connector elsewhere and keeps the stored secret is refused on the secret's own field (it
    used to save, and the next Test sent the secret to the new host)."""
    from lakegate.project import Connector, Project, load_project
    from lakegate.secrets import SecretStore

    host = "https://dbc-1.cloud.databricks.com"
    project = Project.new(studio.project)
    project.set_connector(
        "databricks",
        Connector.model_validate(
            {
                "name": "databricks",
                "base_url": host,
                "auth": {
                    "type": "oauth2",
                    "token_url": f"{host}/oidc/v1/token",
                    "client_id": "sp-1",
                    "client_secret": "${secret:databricks_client_secret}",
                    "scope": "all-apis",
                },
            }
        ),
    )
    project.save()
    SecretStore(project.state_dir).set(
        "databricks_client_secret", "dose-secret-value-1234", origin=f"{host}/oidc/v1/token"
    )
    before = studio.project.read_text()
    client = studio.client()
    form = {
        "csrf_token": studio.csrf(client, "/connectors/databricks"),
        "name": "databricks",
        "base_url": host,
        "auth_type": "oauth2",
        "grant_type": "client_credentials",
        "client_id": "sp-1",
        "scope": "all-apis",
        "client_auth": "request_body",
        "intent": "save",
    }
    moved = client.post(
        "/connectors/databricks", data={**form, "token_url": "http://127.0.0.1:9/steal"}
    )
    assert moved.status_code == 422, moved.text
    assert "Type it again" in moved.text and "http://127.0.0.1:9" in moved.text
    assert studio.project.read_text() == before
    # The same edit with the secret typed again saves, and binds it to the new origin.
    typed = {**form, "token_url": "http://127.0.0.1:9/steal", "client_secret": "new-value-5678"}
    saved = client.post("/connectors/databricks", data=typed)
    assert saved.status_code in (200, 303), saved.text
    assert load_project(studio.project).connector("databricks").auth.token_url.endswith("/steal")
    assert SecretStore(project.state_dir).origins("databricks_client_secret") == [
        "http://127.0.0.1:9"
    ]
    # An edit that keeps the origin keeps the stored secret without asking.
    kept = client.post(
        "/connectors/databricks",
        data={**form, "token_url": "http://127.0.0.1:9/other-path", "description": "x"},
    )
    assert kept.status_code in (200, 303), kept.text
    studio.assert_never_sent("dose-secret-value-1234", "new-value-5678")
