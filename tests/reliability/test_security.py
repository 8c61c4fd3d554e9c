"""Security checks of the running service: token auth, security headers, body limits, no secrets in its
logs or in terraform's trace, and an environment allowlist. A real `demo-app serve` on 127.0.0.1."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from demo_app._config import DISPLAY_BODY_LIMIT, ITEM_BODY_LIMIT
from demo_app._system import DEFAULT_ENV_ALLOWLIST
from provider.acceptance import REQUIRED_PROVIDERS, DemoService, Terraform, install_mirror
from tests.reliability.conftest import Tally

TOKEN = "s3cret-token-9a1f7c"
WRONG_TOKENS = [TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "x" * len(TOKEN), f"{TOKEN} {TOKEN}"]
WRITES = [
    ("POST", "/api/items", {"name": "x"}),
    ("PUT", "/api/items/1", {"name": "x"}),
    ("PATCH", "/api/items/1", {"name": "x"}),
    ("DELETE", "/api/items/1", None),
    ("PUT", "/api/display", {"a": 1}),
    ("POST", "/api/display", {"a": 1}),
    ("DELETE", "/api/display", None),
]
READS = ["/api/items", "/api/items/1", "/api/display", "/api/system", "/metrics"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.request.method, response.request.url, response.text)
    assert response.json() == {"error": "unauthorized", "field": "Authorization"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_writes_need_the_bearer_token_and_reads_stay_open(
    start_service: Callable[..., DemoService], tally: Tally
) -> None:
    service = start_service("--token", TOKEN)
    with service.api() as api:
        created = api.post("/api/items", json={"name": "seed"}, headers=_bearer(TOKEN))
        assert created.status_code == 201
        assert api.put("/api/display", json={"kept": True}, headers=_bearer(TOKEN)).status_code == 200
        for method, path, body in WRITES:
            path = path.replace("/1", f"/{created.json()['id']}")
            _assert_unauthorized(api.request(method, path, json=body))
            for wrong in WRONG_TOKENS:
                _assert_unauthorized(api.request(method, path, json=body, headers=_bearer(wrong)))
                tally.cases += 1
            for scheme in ("Basic", "Token", ""):
                headers = {"Authorization": f"{scheme} {TOKEN}".strip()}
                _assert_unauthorized(api.request(method, path, json=body, headers=headers))
            # The token in a query string or a cookie is not a credential.
            _assert_unauthorized(api.request(method, f"{path}?token={TOKEN}", json=body))
            _assert_unauthorized(api.request(method, path, json=body, headers={"Cookie": f"token={TOKEN}"}))
        # Nothing the refused writes asked for happened.
        assert api.get("/api/items").json() == [created.json()]
        assert api.get("/api/display").json() == {"kept": True}
        for path in ["/health", "/", *READS]:
            assert api.get(path.replace("/1", f"/{created.json()['id']}")).status_code == 200, path
        assert (
            api.patch(
                f"/api/items/{created.json()['id']}",
                json={"name": "renamed"},
                headers={"Authorization": f"bearer {TOKEN}"},
            ).json()["name"]
            == "renamed"
        ), "the auth scheme is case-insensitive"


def test_token_reads_closes_reads_but_not_health(start_service: Callable[..., DemoService]) -> None:
    service = start_service("--token", TOKEN, "--token-reads")
    with service.api() as api:
        for path in READS:
            _assert_unauthorized(api.get(path))
            _assert_unauthorized(api.get(path, headers=_bearer("wrong")))
            assert api.get(path, headers=_bearer(TOKEN)).status_code in (200, 404), path
        assert api.get("/health").status_code == 200, "the container's healthcheck has no token"


def test_token_from_the_environment(
    start_service: Callable[..., DemoService], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMOAPP_TOKEN", TOKEN)
    service = start_service()
    with service.api() as api:
        _assert_unauthorized(api.post("/api/items", json={"name": "x"}))
        assert api.post("/api/items", json={"name": "x"}, headers=_bearer(TOKEN)).status_code == 201


def _directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name.lower()] = values
    return parsed


def test_security_headers_on_the_page_and_the_api(start_service: Callable[..., DemoService]) -> None:
    service = start_service()
    with service.api() as api:
        responses = [api.get(path) for path in ("/", "/static/app.js", "/api/items", "/api/items/x", "/nope")]
    for response in responses:
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", response.url
        policy = _directives(headers["content-security-policy"])
        scripts = policy.get("script-src", policy.get("default-src"))
        assert scripts is not None and scripts != ["*"]
        assert not {"'unsafe-inline'", "'unsafe-eval'", "data:", "*"} & set(scripts), scripts
        assert policy["frame-ancestors"] in (["'none'"], ["'self'"])
        assert policy.get("object-src", policy.get("default-src")) == ["'none'"]
    page = responses[0]
    assert page.headers["content-type"].startswith("text/html")
    # No inline script the policy would have to allow.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), page.text


def test_body_limits_answer_413_naming_the_body(
    start_service: Callable[..., DemoService], tally: Tally
) -> None:
    service = start_service()
    over_item = json.dumps({"name": "x", "description": "d" * ITEM_BODY_LIMIT}).encode()
    display_at_limit = b'"' + b"a" * (DISPLAY_BODY_LIMIT - 2) + b'"'
    over_display = b'"' + b"a" * (DISPLAY_BODY_LIMIT - 1) + b'"'

    def chunked(body: bytes):  # no Content-Length: the limit must hold while streaming too
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    with service.api() as api:
        for response in (
            api.post("/api/items", content=over_item, headers={"Content-Type": "application/json"}),
            api.post("/api/items", content=chunked(over_item)),
            api.put("/api/display", content=over_display),
            api.put("/api/display", content=chunked(over_display)),
        ):
            assert response.status_code == 413, response.text
            assert response.json()["field"] == "body"
            tally.cases += 1
        assert api.put("/api/display", content=display_at_limit).status_code == 200
        assert api.get("/api/items").json() == []


def test_no_secret_in_the_service_log(start_service: Callable[..., DemoService], tmp_path: Path) -> None:
    service = start_service("--token", TOKEN, "--log-level", "debug")
    wrong = "wrong-token-that-must-not-leak"
    with service.api() as api:
        api.post("/api/items", json={"name": "ok"}, headers=_bearer(TOKEN))
        api.post("/api/items", json={"name": "no"}, headers=_bearer(wrong))
        api.get("/api/system", headers={**_bearer(TOKEN), "Cookie": f"session={wrong}"})
        system = api.get("/api/system", headers={**_bearer(TOKEN), "X-Api-Key": wrong}).json()
        api.get("/api/items", params={"access_token": wrong})
    assert "authorization" not in {name.lower() for name in system["headers"]}
    assert TOKEN not in json.dumps(system) and wrong not in json.dumps(system)
    log_file = tmp_path / f"service-{service.port}.log"
    deadline = time.monotonic() + 10
    # The access log is written by a background thread, a few milliseconds behind the requests.
    while log_file.read_text().count('"logger":"demo_app.access"') < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = log_file.read_text()
    assert '"status":401' in log, "the log must show the refused request"
    assert TOKEN not in log and wrong not in log


@pytest.mark.terraform
@pytest.mark.slow
def test_no_secret_in_terraform_trace(start_service: Callable[..., DemoService], tmp_path: Path) -> None:
    service = start_service("--token", TOKEN)
    work = tmp_path / "work"
    terraform = Terraform(work / "config", {**install_mirror(work), "TF_LOG": "trace"})
    terraform.write(
        REQUIRED_PROVIDERS
        + f'provider "demoapp" {{\n  endpoint = "{service.url}"\n  token = var.token\n}}\n'
        + 'variable "token" {\n  type = string\n  sensitive = true\n}\n'
        + 'resource "demoapp_item" "x" {\n  name = "traced"\n}\n'
        + 'resource "demoapp_display" "x" {\n  data = jsonencode({ a = 1 })\n}\n'
    )
    terraform.env = {**terraform.env, "TF_VAR_token": TOKEN}
    terraform.init()
    runs = [terraform.apply(), terraform.run("plan", "-no-color"), terraform.destroy()]
    for run in runs:
        trace = run.stdout + run.stderr
        assert "[TRACE]" in trace, "TF_LOG=trace was not in effect"
        assert TOKEN not in trace
    state = (terraform.workdir / "terraform.tfstate").read_text()
    assert TOKEN not in state


def test_environment_is_an_allowlist(
    start_service: Callable[..., DemoService], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "DEMOAPP_TOKEN": TOKEN,
        "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
        "DATABASE_PASSWORD": "db-password-value",
        "GITHUB_TOKEN": "gh-token-value",
        "UNLISTED_SETTING": "unlisted-value",
    }
    for name, value in {**secrets, "LANG": "C.UTF-8", "TZ": "UTC"}.items():
        monkeypatch.setenv(name, value)
    service = start_service()
    with service.api() as api:
        body = api.get("/api/system", headers=_bearer(TOKEN)).text
    environment = json.loads(body)["environment"]
    assert set(environment) <= set(DEFAULT_ENV_ALLOWLIST)
    assert {"LANG", "TZ"} <= set(environment)
    for value in secrets.values():
        assert value not in body
    service.kill()
    # Names added to the allowlist are shown, but never one that looks like a credential.
    monkeypatch.setenv("DEMOAPP_ENV_ALLOW", "UNLISTED_SETTING,DATABASE_PASSWORD,GITHUB_TOKEN")
    service = start_service()
    with service.api() as api:
        environment = api.get("/api/system", headers=_bearer(TOKEN)).json()["environment"]
    assert environment["UNLISTED_SETTING"] == "unlisted-value"
    assert "DATABASE_PASSWORD" not in environment and "GITHUB_TOKEN" not in environment
