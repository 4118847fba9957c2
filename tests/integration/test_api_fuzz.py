"""schemathesis against the live OpenAPI document: no request makes the API answer 5xx.

The platform runs as ``forewarn serve`` in a subprocess (its own event loop and core), over
the ``fleet`` fixture's data, so the city administrator's token reaches every endpoint. Every
operation of ``/api/v1/openapi.json`` is called with examples that fit the schema and examples
that do not, with the token and, where a path names a known thing (a point, a device token, a
document of the collection ...), also with that thing; every integer parameter at its edges
(past 64 bits, negative); operations that take a body the schema does not describe (they read
it themselves) get arbitrary JSON too, often with the keys their description names or a
document of their collection has. Every 5xx is collected with the request that caused it and
the server's log, and reported at once. 2xx answers must match their documented schema.

``FOREWARN_FUZZ_EXAMPLES`` sets the examples per operation and pass (default 25).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi import from_url
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.integration.api import HECHI_MN, Fleet

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("FOREWARN_FUZZ_EXAMPLES", "25"))
_SERVING = re.compile(r"(http://127\.0\.0\.1:\d+)")  # the API address that forewarn serve prints
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
#: operations fuzzed last: they may end what the others need (the token, the session ...)
_LAST = re.compile(r"logout|revoke|password|disable|token", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    operation: str
    status: int
    request: str
    answer: str

    def __str__(self) -> str:
        return f"{self.operation} -> {self.status}\n  request: {self.request}\n  answer: {self.answer}"


@contextlib.contextmanager
def serving(fleet: Fleet, log_path: Path) -> Iterator[str]:
    """``forewarn serve`` over the fleet's data on loopback; yields the base URL."""
    data = str(fleet.settings.data_dir)
    cmd = [sys.executable, "-m", "forewarn", "serve", "--data", data, "--http-host", "127.0.0.1",
           "--http-port", "0", "--hj212-host", "127.0.0.1", "--hj212-port", "0"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            base = None
            deadline = time.monotonic() + 30
            while base is None and time.monotonic() < deadline:
                line = proc.stdout.readline().decode("utf-8", "replace")
                if not line and proc.poll() is not None:
                    break
                found = _SERVING.search(line)
                base = found.group(1) if found else None
            assert base is not None, f"forewarn serve did not start: {log_path.read_text(errors='replace')}"
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _known_values(fleet: Fleet) -> dict[str, Any]:
    """Path parameters that name something that exists, by the parameter's name."""
    db = sqlite3.connect(fleet.settings.db_path)
    try:
        def first(sql: str) -> Any:
            with contextlib.suppress(sqlite3.Error):
                row = db.execute(sql).fetchone()
                return row[0] if row else None
            return None

        known = {
            "device_token": fleet.device_tokens[HECHI_MN],
            "mn": HECHI_MN,
            "point_id": first("SELECT id FROM points ORDER BY id"),
            "device_id": first("SELECT id FROM devices ORDER BY id"),
            "site_id": first("SELECT id FROM sites ORDER BY id"),
            "enterprise_id": first("SELECT id FROM enterprises ORDER BY id"),
            "region_code": first("SELECT code FROM regions ORDER BY code"),
            "alarm_id": first("SELECT id FROM alarms ORDER BY id"),
            "name": "hechi",
            "user": "hechi",
        }
    finally:
        db.close()
    return {k: v for k, v in known.items() if v is not None}


def _seed(base: str, fleet: Fleet) -> None:
    """Readings for a point to have a series, and a gas reading high enough to raise an alarm."""
    token = fleet.device_tokens[HECHI_MN]
    now_ms = int(time.time() * 1000)
    batch = [{"ts": now_ms - i * 60_000, "values": {"a34002": 5.0 + i, "a21026": 12.5}} for i in range(30, 0, -1)]
    batch.append({"ts": now_ms, "values": {"GD1-LEL": 40.0, "GD1-Flag": "N"}})  # 25 %LEL and more: gas.lel
    answer = httpx.post(f"{base}/api/v1/{token}/telemetry", json=batch, timeout=15)
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the rule engine judges on its own task
        alarms = httpx.get(f"{base}/api/v1/alarms", headers={"Authorization": f"Bearer {fleet.tokens['city']}"})
        if alarms.status_code != 200 or alarms.json().get("alarms", alarms.json().get("items")):
            break
        time.sleep(0.2)


def _json_bodies(keys: list[str], own_keys: list[str], likely: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, and objects with the keys the operation names (its description, a document
    of its collection): values of any type, or (often) a value that makes sense for the key, so
    that the handler gets past its first checks."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    own_keys = sorted(set(own_keys) | set(likely))
    key = st.sampled_from(own_keys or keys) | st.sampled_from(keys) | st.text(max_size=10)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(key, inner, max_size=5), max_leaves=12)
    if not own_keys:
        return values | st.dictionaries(key, values, max_size=8)
    shaped = st.text(max_size=20) | st.recursive(values, lambda inner: st.lists(inner, max_size=3)
                          | st.fixed_dictionaries({}, optional={k: inner for k in own_keys}), max_leaves=15)

    def value_for(k: str) -> st.SearchStrategy[Any]:
        sensible = [st.just(likely[k])] if k in likely else []
        if k in _MOMENTS:
            sensible.append(st.sampled_from(["2026-11-22T08:00", "2026-11-23T08:00:00+08:00", str(_NOW_MS)])
                            | st.integers(_NOW_MS - 10**9, _NOW_MS + 10**9))
        return st.one_of(*sensible, shaped) if sensible else shaped

    return st.fixed_dictionaries({}, optional={k: value_for(k) for k in own_keys}) | values


#: body keys that take a moment (ISO 8601 or epoch ms)
_MOMENTS = frozenset({"ts", "from", "to", "until", "since", "at", "time"})
_NOW_MS = int(time.time() * 1000)


def _collection_samples(base: str, spec: dict[str, Any], auth: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The first document each list endpoint answers (``GET /api/v1/sites`` -> a site), by path."""
    samples: dict[str, dict[str, Any]] = {}
    for path, methods in spec["paths"].items():
        if "get" not in methods or "{" in path or _streams(methods["get"]):
            continue
        with contextlib.suppress(httpx.HTTPError, ValueError):
            answer = httpx.get(base + path, headers=auth, timeout=15).json()
            lists = [v for v in answer.values() if isinstance(v, list)] if isinstance(answer, dict) else [answer]
            for items in lists:
                if items and isinstance(items[0], dict):
                    samples[path] = items[0]
                    break
    return samples


def _collection(path: str) -> str:
    """``/api/v1/devices/{key}`` and ``/api/v1/alarms/{alarm_id}/ack`` -> ``/api/v1/devices``, ``/api/v1/alarms``."""
    return re.sub(r"(/\{[^}]+\})+(/[^/{}]+)?$", "", path)


def _sample_for(path: str, samples: dict[str, dict[str, Any]], known: dict[str, Any]) -> dict[str, Any]:
    """Likely body values for an operation on ``path``: a document of its collection, known things."""
    likely = {k: v for k, v in samples.get(_collection(path), {}).items() if not isinstance(v, dict | list)}
    return {**likely, **{k: v for k, v in known.items() if k in likely or k in ("mn", "site_id", "device_id")}}


def _keys_named(text: str) -> list[str]:
    """The JSON keys a description names: ``"name"``, ``name``, {"mn", "code"} ..."""
    return sorted(set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', text))
                  | set(re.findall(r"``([A-Za-z_][A-Za-z0-9_]*)``", text)))


def _property_names(spec: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(spec, dict):
        props = spec.get("properties")
        if isinstance(props, dict):
            names.update(str(k) for k in props)
        for value in spec.values():
            names |= _property_names(value)
    elif isinstance(spec, list):
        for value in spec:
            names |= _property_names(value)
    return names


_EDGE_INTEGERS = (0, -1, 2**63, -(2**63) - 1, 10**30)


def _is_integer(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "integer" or any(_is_integer(s) for s in schema.get("oneOf", schema.get("anyOf", [])))


def _edges(path: str, documented: dict[str, Any], known: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Requests with each integer parameter at the edges (others as known, or 1), one at a time."""
    params = [p for p in documented.get("parameters", []) if p.get("in") in ("path", "query")]
    in_path = {p["name"]: known.get(p["name"], 1) for p in params if p["in"] == "path"}
    for param in params:
        if not _is_integer(param.get("schema", {})):
            continue
        for value in _EDGE_INTEGERS:
            values = {**in_path, param["name"]: value} if param["in"] == "path" else in_path
            query = {param["name"]: value} if param["in"] == "query" else {}
            yield re.sub(r"\{([^}]+)\}", lambda m, v=values: str(v.get(m.group(1), 1)), path), query


def _streams(documented: dict[str, Any]) -> bool:
    """Whether the operation answers a stream (Server-Sent Events) rather than a document."""
    for response in documented.get("responses", {}).values():
        if "text/event-stream" in response.get("content", {}) or response.get("description") == "Stream Response":
            return True
    return False


def _describe(response: requests.Response) -> str:
    request = response.request
    body = request.body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    if len(text) > 300:
        text = text[:300] + "..."
    return f"{request.method} {request.url}" + (f" body={text!r}" if text else "")


def _fuzz(run: Callable[[Any], None], strategy: st.SearchStrategy[Any]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def test(example: Any) -> None:
        run(example)

    try:
        test()
    except Unsatisfiable:  # nothing to get wrong (negative examples of an operation without inputs)
        pass


def test_no_request_answers_5xx(fleet: Fleet, tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    with serving(fleet, log_path) as base:
        schema = from_url(f"{base}/api/v1/openapi.json", timeout=10)
        spec = httpx.get(f"{base}/api/v1/openapi.json").json()
        auth = {"Authorization": f"Bearer {fleet.tokens['city']}"}
        _seed(base, fleet)
        known = _known_values(fleet)
        samples = _collection_samples(base, spec, auth)
        print("known:", known)
        body_keys = sorted(_property_names(spec) | {
            "name", "password", "readings", "mn", "code", "field", "kind", "ts", "value", "flag", "values",
            "comment", "reason", "note", "role", "region_code", "enterprise_id", "site_id", "device_id", "state",
        })
        findings: dict[tuple[str, int, str], Finding] = {}
        nonconforming: dict[str, str] = {}
        seen: dict[str, Counter[int]] = {}
        took: dict[str, float] = {}

        operations = [result.ok() for result in schema.get_all_operations()]
        operations.sort(key=lambda op: (bool(_LAST.search(re.sub(r"\{[^}]*\}", "", op.path))),
                                        op.method.upper() == "DELETE", op.label))
        assert len(operations) >= 5

        for operation in operations:
            label = operation.label
            started = time.monotonic()
            documented = spec["paths"][operation.path][operation.method.lower()]
            streams = _streams(documented)

            def record(response: requests.Response, label: str = label) -> None:
                seen.setdefault(label, Counter())[response.status_code] += 1
                if response.status_code >= 500:
                    text = response.text[:300]
                    findings.setdefault((label, response.status_code, text[:80]),
                                        Finding(label, response.status_code, _describe(response), text))

            def check(case: Any, label: str = label, streams: bool = streams) -> None:
                if streams:  # only the status and headers: the stream goes on until the client leaves
                    kwargs = case.as_transport_kwargs(base_url=base, headers=auth)
                    with requests.request(**kwargs, stream=True, timeout=15) as streamed:
                        record(streamed)
                    return
                response = case.call(base_url=base, headers=auth, timeout=15)
                record(response)
                try:
                    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance],
                                           headers=auth)
                except FailureGroup as exc:
                    if response.status_code < 500:
                        nonconforming.setdefault(label, f"{_describe(response)}: {exc}"[:1500])

            names = {p.name for p in operation.path_parameters}
            fixed = {k: v for k, v in known.items() if k in names}
            if "key" in names:  # /api/v1/sites/{key}: the id (or code) of a document of the collection
                sample = samples.get(_collection(operation.path), {})
                if sample.get("id", sample.get("code")) is not None:
                    fixed["key"] = sample.get("id", sample.get("code"))
            passes: list[tuple[GenerationMode, dict[str, Any] | None]] = [
                (GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
            if fixed:
                passes.append((GenerationMode.POSITIVE, fixed))
            for mode, path_parameters in passes:
                _fuzz(check, operation.as_strategy(generation_mode=mode, headers=auth,
                                                          path_parameters=path_parameters))

            for path, query in _edges(operation.path, documented, known):  # numbers past 64 bits, negative ...
                url = base + path
                if streams:
                    with requests.request(operation.method.upper(), url, params=query, headers=auth, stream=True,
                                          timeout=15) as streamed:
                        record(streamed)
                else:
                    record(requests.request(operation.method.upper(), url, params=query, headers=auth, timeout=15))

            if operation.method.upper() in _UNSAFE and "requestBody" not in documented:
                # the handler reads the body itself: give it JSON the schema does not describe
                def with_body(example: tuple[Any, Any], label: str = label) -> None:
                    case, body = example
                    data = json.dumps(body).encode()
                    response = case.call(base_url=base, timeout=15,
                                         headers={**auth, "Content-Type": "application/json"}, data=data)
                    record(response)

                strategy = operation.as_strategy(headers=auth, path_parameters=fixed or None)
                own_keys = _keys_named(f"{documented.get('summary', '')} {documented.get('description', '')}")
                likely = _sample_for(operation.path, samples, known)
                _fuzz(with_body, st.tuples(strategy, _json_bodies(body_keys, own_keys, likely)))
            took[label] = time.monotonic() - started

        health = httpx.get(f"{base}/api/v1/health")
        assert health.status_code == 200, "the platform did not survive the fuzzing"

    for label, statuses in sorted(seen.items()):  # shown with -s, or when the test fails
        print(f"{label}: {dict(sorted(statuses.items()))} in {took.get(label, 0):.1f} s")
    log = log_path.read_text(errors="replace")
    report = "\n\n".join(str(f) for f in findings.values())
    assert not findings, f"{len(findings)} kinds of 5xx:\n\n{report}\n\nserver log:\n{log[-6000:]}"
    assert not nonconforming, "answers that do not match the schema:\n\n" + "\n\n".join(
        f"{op}: {text}" for op, text in nonconforming.items())
