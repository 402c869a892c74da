"""A lineage endpoint that trickles, stays silent or refuses costs a run a bounded delay.

Real servers on 127.0.0.1: one that answers a byte every second forever, one that reads the
request and never answers, one that refuses connections. Each run's events must all be in
its local file (written before any send), the sends must end within the documented limits
(thio.lineage.SEND_DEADLINE_SECONDS per event, RUN_SEND_BUDGET_SECONDS per run), the
undelivered events are counted, and the run logs one warning line, no traceback.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from thio.lineage import (
    RUN_SEND_BUDGET_SECONDS,
    SEND_DEADLINE_SECONDS,
    URL_VARIABLE,
    emit,
    lineage_path,
    run_event,
    send_failures,
    sends_deferred,
)

FLOW_RUN = "0b9f3f4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
STEPS = ("ingest", "validate", "compute", "audit", "publish")
# Room for a loaded machine on top of the documented limits: a hang (the bug) never ends.
SLACK_SECONDS = 5.0


@dataclass
class Endpoint:
    """A misbehaving lineage endpoint on 127.0.0.1 and what it saw."""

    url: str
    requests: list[bytes] = field(default_factory=list)
    on_request: Callable[[], None] | None = None


def _read_request(connection: socket.socket) -> bytes:
    """The request head and as much body as Content-Length says (or what came in 5 s)."""
    connection.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    except (TimeoutError, OSError):
        return data


def _serve(kind: str, stop: threading.Event, endpoint: Endpoint, listener: socket.socket):
    def handle(connection: socket.socket) -> None:
        with connection:
            endpoint.requests.append(_read_request(connection))
            if endpoint.on_request is not None:
                endpoint.on_request()
            if kind == "silent":
                stop.wait()
                return
            # trickle: one byte a second, a status line that never ends, until the client
            # hangs up or the test is over
            connection.settimeout(None)
            while not stop.wait(1.0):
                try:
                    connection.sendall(b"H")
                except OSError:
                    return

    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        threading.Thread(target=handle, args=(connection,), daemon=True).start()


@pytest.fixture(params=["trickle", "silent", "refuse"])
def endpoint(request) -> Iterator[Endpoint]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    endpoint = Endpoint(url=f"http://127.0.0.1:{port}")
    endpoint.kind = request.param  # type: ignore[attr-defined]
    stop = threading.Event()
    if request.param == "refuse":
        # bound but not listening: the kernel refuses every connection to the port
        try:
            yield endpoint
        finally:
            listener.close()
        return
    listener.listen(16)
    server = threading.Thread(
        target=_serve, args=(request.param, stop, endpoint, listener), daemon=True
    )
    server.start()
    try:
        yield endpoint
    finally:
        stop.set()
        server.join(5)
        listener.close()


def _run(home: Path) -> dict:
    return {"run_id": FLOW_RUN, "round_id": "2023Q1", "home": str(home), "parameters": {}}


def _run_events(run: dict) -> list:
    """The dozen events of a survey-round run, in the order the flow emits them."""
    events = [run_event(run, "START")]
    for step in STEPS:
        events += [run_event(run, "START", step=step), run_event(run, "COMPLETE", step=step)]
    return [*events, run_event(run, "COMPLETE")]


def _finished_within(seconds: float, work: Callable[[], None]) -> bool:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def _event_types(home: Path) -> list[tuple[str, str]]:
    lines = lineage_path(home, FLOW_RUN).read_text(encoding="utf-8").splitlines()
    return [(json.loads(line)["job"]["name"], json.loads(line)["eventType"]) for line in lines]


def test_a_bad_endpoint_delays_an_event_and_a_run_a_bounded_time(
    tmp_path, monkeypatch, caplog, endpoint
):
    monkeypatch.setenv(URL_VARIABLE, endpoint.url)
    lines_when_sent: list[int] = []
    endpoint.on_request = lambda: lines_when_sent.append(len(_event_types(tmp_path)))
    run = _run(tmp_path)
    first, *rest = _run_events(run)
    caplog.set_level(logging.DEBUG, logger="thio.lineage")

    assert _finished_within(
        SEND_DEADLINE_SECONDS + SLACK_SECONDS, lambda: emit(tmp_path, FLOW_RUN, [first])
    )

    def the_rest_one_by_one() -> None:
        for event in rest:
            emit(tmp_path, FLOW_RUN, [event])

    assert _finished_within(RUN_SEND_BUDGET_SECONDS + SLACK_SECONDS, the_rest_one_by_one)

    expected = [("survey_round", "START")]
    for step in STEPS:
        expected += [(f"survey_round.{step}", "START"), (f"survey_round.{step}", "COMPLETE")]
    expected.append(("survey_round", "COMPLETE"))
    assert _event_types(tmp_path) == expected
    assert send_failures(tmp_path, FLOW_RUN) == 12  # none of the 12 was delivered
    if endpoint.kind == "refuse":
        assert endpoint.requests == []
    else:
        # the server saw the POST of the first event, after the event was in the file
        assert endpoint.requests[0].startswith(b"POST /api/v1/lineage HTTP/1.1\r\n")
        assert json.loads(endpoint.requests[0].split(b"\r\n\r\n", 1)[1])["eventType"] == "START"
        assert lines_when_sent[0] == 1
        # 2 s each until the 6 s budget is spent; the other events are never sent
        assert len(endpoint.requests) == 3
    warnings = [
        record
        for record in caplog.records
        if record.name == "thio.lineage" and record.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    message = warnings[0].getMessage()
    assert "\n" not in message and endpoint.url in message
    assert str(lineage_path(tmp_path, FLOW_RUN)) in message


def test_deferred_sends_wait_for_the_block_and_happen_however_it_ends(tmp_path, monkeypatch):
    """The publish step's events: written at once, POSTed when the block (holding the
    warehouse slot) is over, also when it fails."""
    received: list[str] = []
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                request = _read_request(connection)
                received.append(json.loads(request.split(b"\r\n\r\n", 1)[1])["eventType"])
                connection.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    monkeypatch.setenv(URL_VARIABLE, f"http://127.0.0.1:{listener.getsockname()[1]}")
    run = _run(tmp_path)
    try:
        with pytest.raises(RuntimeError), sends_deferred():
            emit(tmp_path, FLOW_RUN, [run_event(run, "START", step="publish")])
            emit(tmp_path, FLOW_RUN, [run_event(run, "COMPLETE", step="publish")])
            # in the file already, not sent yet
            assert len(_event_types(tmp_path)) == 2
            assert received == []
            raise RuntimeError("the publish failed")
    finally:
        stop.set()
        server.join(5)
        listener.close()
    assert received == ["START", "COMPLETE"]
    assert send_failures(tmp_path, FLOW_RUN) == 0


def test_credentials_in_the_url_are_sent_and_never_logged(tmp_path, monkeypatch, caplog):
    heads: list[bytes] = []
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def serve_one() -> None:
        connection, _ = listener.accept()
        with connection:
            heads.append(_read_request(connection).split(b"\r\n\r\n", 1)[0])
            connection.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")

    server = threading.Thread(target=serve_one, daemon=True)
    server.start()
    monkeypatch.setenv(URL_VARIABLE, f"http://thio:s%40cret@127.0.0.1:{port}")
    try:
        emit(tmp_path, FLOW_RUN, [run_event(_run(tmp_path), "START")])
    finally:
        server.join(5)
        listener.close()
    # base64 of "thio:s@cret"
    assert b"Authorization: Basic dGhpbzpzQGNyZXQ=" in heads[0].split(b"\r\n")
    assert send_failures(tmp_path, FLOW_RUN) == 1  # a 401 is not a delivery
    assert "the endpoint answered HTTP 401" in caplog.text
    assert "s%40cret" not in caplog.text and "s@cret" not in caplog.text
