"""The live page's static routes: served without a token, under a Content-Security-Policy, nothing else."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from dsrs.auth.tokens import SecretVerifier
from dsrs.web.app import create_web_app
from dsrs.web.ui import ASSETS

SECRET = "s" * 48


@pytest.fixture
def client() -> TestClient:
    # No runtime: a static route that reached for data would fail here.
    app = create_web_app(None, SecretVerifier(SECRET, "dsrs-test", "dsrs-api"))  # type: ignore[arg-type]
    return TestClient(app, follow_redirects=False)


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/ui/", "text/html"),
        ("/ui/index.html", "text/html"),
        ("/ui/ui.js", "text/javascript"),
        ("/ui/ui.css", "text/css"),
    ],
)
def test_the_page_and_its_files_need_no_token_and_carry_the_policy(
    client: TestClient, path: str, media_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_root_sends_to_the_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["location"] == "/ui/"


@pytest.mark.parametrize("path", ["/ui/secret.py", "/ui/..%2Fui.py", "/ui/%2e%2e%2fapp.py", "/ui/ui.js.map"])
def test_only_the_pages_own_files_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_the_page_runs_no_inline_script_and_fetches_nothing_from_elsewhere(client: TestClient) -> None:
    html = client.get("/ui/").text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    assert scripts == [(' src="ui.js" defer', "")]
    assert "style=" not in html
    for name in ASSETS:
        text = client.get(f"/ui/{name}").text
        assert not re.search(r"(src|href)=\"(https?:)?//", text), name
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), name
        assert "https://" not in text, name


def test_the_token_is_read_from_the_fragment_and_never_put_in_a_query(client: TestClient) -> None:
    script = client.get("/ui/ui.js").text
    assert "location.hash" in script
    assert "history.replaceState" in script
    assert "sessionStorage" in script
    assert "Authorization" in script
    assert not re.search(r"[?&]token", script)


def test_the_api_still_wants_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/analytics/summary").status_code == 401


def test_the_current_cycle_is_read_from_the_cycles_api_and_says_when_it_may_not(client: TestClient) -> None:
    html = client.get("/ui/").text
    assert 'id="cycles-panel"' in html
    script = client.get("/ui/ui.js").text
    assert "api/v1/programs/${encodeURIComponent(programId)}/cycles" in script
    assert "may not read payment cycles" in script
    assert "No cycle opened yet" in script
