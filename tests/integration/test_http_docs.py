"""The interactive API docs at /api/v1/docs: everything they need comes from the platform itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from forewarn.app import Platform
from tests.integration.api import Fleet, assert_problem, bearer, run

pytestmark = pytest.mark.integration


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self.title = ""
        self._in_title = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.refs += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_title = tag == "title"
        self._in_script = tag == "script" and "src" not in found

    def handle_endtag(self, tag: str) -> None:
        self._in_title = self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._in_script and data.strip():
            self.inline_scripts += 1


def test_docs_page_and_everything_it_loads_come_from_the_platform(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        page = await client.get("/api/v1/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
        assert "http" not in csp  # no other host is allowed
        parser = _Refs()
        parser.feed(page.text)
        assert "forewarn" in parser.title
        assert parser.inline_scripts == 0  # the CSP allows none
        assert len(parser.refs) >= 3, parser.refs

        base = str(client.base_url)
        host = urlsplit(base).netloc
        urls = [urljoin(base + "/api/v1/docs", ref) for ref in parser.refs]
        for url in urls:
            assert urlsplit(url).netloc == host, url
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
            assert asset.headers["content-security-policy"] == csp
            if url.endswith(".js"):
                assert "javascript" in asset.headers["content-type"], url
            if url.endswith(".css"):
                assert asset.headers["content-type"].startswith("text/css"), url
                # the stylesheet's own references: only data: URIs or files of this host
                for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", asset.text):
                    if not ref.startswith("data:"):
                        assert not urlsplit(ref).netloc, ref
                        assert (await client.get(urljoin(url, ref))).status_code == 200, ref

        # the page's set-up reads the platform's OpenAPI document, which has the bearer scheme
        init = next(u for u in urls if u.endswith("forewarn-docs.js"))
        text = (await client.get(init)).text
        assert '"/api/v1/openapi.json"' in text and "validatorUrl: null" in text
        assert not re.search(r"https?://", text)
        spec = (await client.get("/api/v1/openapi.json")).json()
        assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert not any(p.startswith("/api/v1/docs") for p in spec["paths"])

        # the bundle itself fetches nothing from elsewhere by default (validator badge is off)
        assert_problem(await client.get("/api/v1/docs/index.html"), 404)
        assert_problem(await client.get("/api/v1/docs/..%2Fpyproject.toml"), 404)
        assert_problem(await client.get("/api/v1/docs/swagger-initializer.js"), 404)

        # what the "Authorize" button does: the token works from the docs' origin
        answer = await client.get("/api/v1/auth/session", headers=bearer(fleet.tokens["city"]))
        assert answer.status_code == 200, answer.text

    run(fleet.settings, scenario)


def test_the_api_document_describes_what_each_write_takes(fleet: Fleet) -> None:
    """The docs page can only offer a body to fill in (and schemathesis can only send one) for
    operations whose request body the document describes."""

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
        writes = [(method, path) for path, ops in paths.items() for method in ops if method in ("post", "patch")]
        bodiless = {("post", "/api/v1/auth/logout"), ("post", "/api/v1/devices/{device_id}/tokens"),
                    ("post", "/api/v1/users/{name}/disable"), ("post", "/api/v1/users/{name}/enable")}
        missing = [w for w in writes if w not in bodiless and "requestBody" not in paths[w[1]][w[0]]]
        assert not missing, missing
        site = paths["/api/v1/sites"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert set(site["required"]) == {"enterprise_id", "name", "site_type", "region_code"}
        login = paths["/api/v1/auth/login"]["post"]["requestBody"]
        assert login["required"] and set(login["content"]["application/json"]["schema"]["required"]) == {
            "name", "password"}
        assert "text/csv" in paths["/api/v1/registry/import"]["post"]["requestBody"]["content"]

    run(fleet.settings, scenario)
