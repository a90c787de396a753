"""The Chat part of CONTRACT.md, through the gateway: REST and the WebSocket ``/chat/ws``."""

import contextlib
import json
import uuid
from contextlib import ExitStack

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

THREAD_KEYS = {"id", "user", "subject", "lastMessage", "createdAt", "updatedAt"}
MESSAGE_KEYS = {"id", "threadId", "sender", "senderId", "body", "attachments", "createdAt"}
FRAME_KEYS = {"type", "id", "threadId", "body", "sender", "senderId", "attachments",
              "timestamp"}
NOT_FOUND = {"error": "Thread not found"}


@pytest.fixture
def support(users, bearer):
    """A support advisor: registered, promoted by the admin, logged in again (a token
    keeps the role it was issued with)."""
    registered = users.register()
    promoted = users.client.post(f"/api/auth/users/{registered['user']['id']}/role/",
                                 json={"role": "support"},
                                 headers=bearer(users.admin_token()))
    assert promoted.status_code == 200, promoted.text
    token = users.login(registered["user"]["email"], "password123")["accessToken"]
    return {"id": registered["user"]["id"], "token": token, "headers": bearer(token)}


@pytest.fixture
def intruder(users, bearer):
    body = users.register()
    return {"id": body["user"]["id"], "token": body["accessToken"],
            "headers": bearer(body["accessToken"])}


@pytest.fixture
def sockets(platform_url):
    """Opens sockets on the gateway's ``/chat/ws``; closes them after the test."""
    with ExitStack() as opened:

        def open_socket(token=None, *, subprotocol=False, path="/chat/ws",
                        unbuffered=False) -> ClientConnection:
            """``unbuffered``: the client keeps reading whatever arrives while the test is
            busy sending (its default stops at 16 frames, and a server whose frames wait
            too long drops the socket as too slow)."""
            url = "ws" + platform_url.removeprefix("http") + path
            if token is not None and not subprotocol:
                url += f"?token={token}"
            return opened.enter_context(connect(
                url, subprotocols=["bearer", token] if subprotocol else None, open_timeout=10,
                max_queue=None if unbuffered else 16))

        yield open_socket


def token_of(headers):
    return headers["Authorization"].removeprefix("Bearer ")


def receive(socket, within=10.0):
    return json.loads(socket.recv(timeout=within))


def send(socket, **frame):
    socket.send(json.dumps(frame))


def new_thread(gateway, headers, **body):
    response = gateway.post("/api/chat/threads/", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def post(gateway, headers, thread_id, body="hello", **extra):
    return gateway.post(f"/api/chat/threads/{thread_id}/messages/",
                        json={"body": body, **extra}, headers=headers)


def messages(gateway, headers, thread_id, **params):
    return gateway.get(f"/api/chat/threads/{thread_id}/messages/", params=params,
                       headers=headers)


def test_threads_and_messages_over_rest(gateway, member):
    headers = member["headers"]
    thread = new_thread(gateway, headers, subject="Brakes squeak")
    assert set(thread) == THREAD_KEYS
    assert (thread["user"], thread["subject"], thread["lastMessage"]) == (
        member["id"], "Brakes squeak", None)
    first = post(gateway, headers, thread["id"], "First")
    assert first.status_code == 201 and set(first.json()) == MESSAGE_KEYS
    assert (first.json()["sender"], first.json()["senderId"]) == ("user", member["id"])
    post(gateway, headers, thread["id"], "Second")
    listed = messages(gateway, headers, thread["id"])
    assert [m["body"] for m in listed.json()] == ["First", "Second"]
    later = messages(gateway, headers, thread["id"], since=first.json()["createdAt"])
    assert [m["body"] for m in later.json()] == ["Second"]
    [mine] = gateway.get("/api/chat/threads/", headers=headers).json()
    assert mine["lastMessage"]["body"] == "Second" and mine["updatedAt"].endswith("Z")
    untitled = gateway.post("/api/chat/threads", headers=headers)  # no slash, no body
    assert untitled.status_code == 201 and untitled.json()["subject"] is None
    listed_threads = gateway.get("/api/chat/threads/", headers=headers).json()
    assert [t["id"] for t in listed_threads] == [untitled.json()["id"], thread["id"]]


def test_rest_errors(gateway, member):
    headers = member["headers"]
    thread = new_thread(gateway, headers)
    for payload in ({}, {"body": ""}):
        response = gateway.post(f"/api/chat/threads/{thread['id']}/messages/", json=payload,
                                headers=headers)
        assert (response.status_code, response.json()) == (400, {"error": "body is required"})
    bad_attachments = post(gateway, headers, thread["id"], "x", attachments="not-a-list")
    assert bad_attachments.status_code == 400 and "attachments" in bad_attachments.json()
    bad_since = messages(gateway, headers, thread["id"], since="last tuesday")
    assert bad_since.status_code == 400 and "since" in bad_since.json()
    missing = messages(gateway, headers, str(uuid.uuid4()))
    assert (missing.status_code, missing.json()) == (404, NOT_FOUND)
    assert gateway.get("/api/chat/threads/").status_code == 401


def test_another_members_thread_is_invisible_over_rest(gateway, member, intruder):
    thread = new_thread(gateway, member["headers"])
    post(gateway, member["headers"], thread["id"], "private")
    read = messages(gateway, intruder["headers"], thread["id"])
    assert (read.status_code, read.json()) == (404, NOT_FOUND)
    written = post(gateway, intruder["headers"], thread["id"], "let me in")
    assert (written.status_code, written.json()) == (404, NOT_FOUND)
    assert gateway.get("/api/chat/threads/", headers=intruder["headers"]).json() == []
    assert len(messages(gateway, member["headers"], thread["id"]).json()) == 1


def test_support_sees_every_thread_and_replies_as_support(gateway, member, support):
    thread = new_thread(gateway, member["headers"])
    listed = gateway.get("/api/chat/threads/", headers=support["headers"]).json()
    assert thread["id"] in [t["id"] for t in listed]
    reply = post(gateway, support["headers"], thread["id"], "An advisor here")
    assert reply.status_code == 201
    assert (reply.json()["sender"], reply.json()["senderId"]) == ("support", support["id"])
    [seen] = messages(gateway, member["headers"], thread["id"]).json()
    assert seen == reply.json()


def test_socket_needs_a_valid_token(sockets, member):
    for token in (None, "not-a-token"):
        socket = sockets(token)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    by_subprotocol = sockets(token_of(member["headers"]), subprotocol=True)
    assert by_subprotocol.subprotocol == "bearer"
    send(by_subprotocol, type="NOPE")
    assert receive(by_subprotocol)["type"] == "ERROR"


def test_send_ack_message_and_typing_over_sockets(gateway, sockets, member, support,
                                                  intruder):
    thread = new_thread(gateway, member["headers"])
    member_token = token_of(member["headers"])
    phone, laptop = sockets(member_token), sockets(member_token, path="/chat/ws/")
    advisor = sockets(support["token"])
    outsider = sockets(intruder["token"])

    send(phone, type="SEND", threadId=thread["id"], body="Hello", clientId="c-1")
    ack = receive(phone)
    assert (ack["type"], ack["clientId"]) == ("ACK", "c-1")
    frame = receive(phone)
    assert set(frame) == FRAME_KEYS and frame["id"] == ack["id"]
    assert (frame["type"], frame["threadId"], frame["body"], frame["sender"],
            frame["senderId"]) == ("MESSAGE", thread["id"], "Hello", "user", member["id"])
    assert receive(laptop) == frame and receive(advisor) == frame

    send(advisor, type="TYPING", threadId=thread["id"])
    typing = {"type": "TYPING", "user": support["id"], "threadId": thread["id"]}
    assert receive(phone) == typing and receive(laptop) == typing
    send(advisor, type="SEND", threadId=thread["id"], body="How can I help?")
    assert receive(advisor)["type"] == "ACK"  # not its own TYPING: that went to the others
    reply = receive(phone)
    assert (reply["sender"], reply["senderId"]) == ("support", support["id"])

    posted = post(gateway, member["headers"], thread["id"], "Sent over REST").json()
    for socket in (phone, laptop, advisor):
        while (pushed := receive(socket))["type"] != "MESSAGE" or pushed["id"] != posted["id"]:
            pass
        assert pushed["timestamp"] == posted["createdAt"]

    # The outsider can neither write nor watch: its attempts are errors, and the first
    # frame it receives is about its own thread.
    send(outsider, type="SEND", threadId=thread["id"], body="let me in")
    assert receive(outsider) == {"type": "ERROR", "error": "Thread not found"}
    send(outsider, type="TYPING", threadId=thread["id"])
    assert receive(outsider) == {"type": "ERROR", "error": "Thread not found"}
    own = new_thread(gateway, intruder["headers"])
    send(outsider, type="SEND", threadId=own["id"], body="mine", clientId=1)
    assert receive(outsider)["type"] == "ACK"
    assert receive(outsider)["threadId"] == own["id"]
    assert len(messages(gateway, member["headers"], thread["id"]).json()) == 3


def test_bad_frames_get_errors_and_the_socket_stays_open(gateway, sockets, member):
    thread = new_thread(gateway, member["headers"])
    socket = sockets(token_of(member["headers"]))
    for text in ("not json", '{"type": "DANCE"}', '{"type": "SEND", "body": "x"}'):
        socket.send(text)
        error = receive(socket)
        assert error["type"] == "ERROR" and isinstance(error["error"], str), text
    send(socket, type="SEND", threadId=thread["id"])
    assert receive(socket) == {"type": "ERROR", "error": "body is required"}
    send(socket, type="SEND", threadId=thread["id"], body="still open")
    assert receive(socket)["type"] == "ACK"


def test_attachments_must_be_the_senders_uploaded_files(gateway, member, intruder):
    def upload(headers):
        presigned = gateway.post("/api/files/presign/", headers=headers, json={
            "filename": "photo.png", "contentType": "image/png"}).json()
        with httpx.Client(timeout=30) as s3:
            assert s3.put(presigned["url"], content=b"\x89PNG...",
                          headers=presigned["headers"]).status_code == 200
        assert gateway.post(f"/api/files/{presigned['fileId']}/complete/",
                            headers=headers).status_code == 200
        return presigned["fileId"]

    thread = new_thread(gateway, member["headers"])
    mine, theirs = upload(member["headers"]), upload(intruder["headers"])
    attached = post(gateway, member["headers"], thread["id"], "photo", attachments=[mine])
    assert attached.status_code == 201 and attached.json()["attachments"] == [mine]
    refused = post(gateway, member["headers"], thread["id"], "x", attachments=[theirs])
    assert refused.status_code == 400 and theirs in refused.json()["error"]


@pytest.mark.processes_only
def test_sockets_on_different_chat_processes_receive_each_others_messages(
        gateway, sockets, member, support, topology):
    assert len(topology.processes["chat"]) == 2
    thread = new_thread(gateway, member["headers"])
    member_token = token_of(member["headers"])
    # The gateway hands sockets to the chat processes in turn: opened back to back, the
    # two sockets of each user land on different processes.
    phone, laptop = sockets(member_token), sockets(member_token)
    desk, headset = sockets(support["token"]), sockets(support["token"])

    send(phone, type="SEND", threadId=thread["id"], body="from the phone")
    ack = receive(phone)
    assert receive(phone)["id"] == ack["id"]
    for socket in (laptop, desk, headset):
        assert receive(socket)["id"] == ack["id"]
    send(headset, type="SEND", threadId=thread["id"], body="from the headset")
    reply = receive(headset)
    assert receive(headset)["id"] == reply["id"]
    for socket in (phone, laptop, desk):
        frame = receive(socket)
        assert (frame["id"], frame["sender"]) == (reply["id"], "support")
    send(laptop, type="TYPING", threadId=thread["id"])
    for socket in (phone, desk, headset):
        assert receive(socket) == {"type": "TYPING", "user": member["id"],
                                   "threadId": thread["id"]}
    posted = post(gateway, support["headers"], thread["id"], "over REST").json()
    for socket in (phone, laptop, desk, headset):
        assert receive(socket)["id"] == posted["id"]


RATE_LIMIT_ERROR = {"type": "ERROR",
                    "error": "Too many frames: at most 500 a second on one socket"}


def test_a_burst_of_300_sends_on_one_socket_stays_under_the_frame_limit(gateway, sockets,
                                                                        member):
    thread = new_thread(gateway, member["headers"])
    socket = sockets(token_of(member["headers"]), unbuffered=True)
    for i in range(300):
        send(socket, type="SEND", threadId=thread["id"], body=f"m{i}", clientId=i)
    frames = [receive(socket, within=30) for _ in range(600)]
    assert sorted(f["clientId"] for f in frames if f["type"] == "ACK") == list(range(300))
    assert [f for f in frames if f["type"] == "ERROR"] == []


def test_frames_past_the_limit_get_errors_and_the_socket_stays_open(gateway, sockets,
                                                                   member):
    thread = new_thread(gateway, member["headers"])
    socket = sockets(token_of(member["headers"]), unbuffered=True)
    flood = json.dumps({"type": "TYPING", "threadId": thread["id"]})
    for _ in range(3000):  # far faster than 500 a second; allowed TYPINGs answer nothing
        socket.send(flood)
    errors = []
    with contextlib.suppress(TimeoutError):
        while True:  # until the errors stop coming
            errors.append(receive(socket, within=2))
    assert errors and all(error == RATE_LIMIT_ERROR for error in errors)
    assert len(errors) < 3000
    send(socket, type="SEND", threadId=thread["id"], body="still open", clientId="after")
    ack = receive(socket)
    assert (ack["type"], ack["clientId"]) == ("ACK", "after")


def test_typing_is_fanned_out_once_a_second_per_socket_and_thread(gateway, sockets, member,
                                                                  support):
    thread = new_thread(gateway, member["headers"])
    member_token = token_of(member["headers"])
    phone, laptop = sockets(member_token), sockets(member_token)
    advisor = sockets(support["token"])
    for _ in range(5):
        send(phone, type="TYPING", threadId=thread["id"])
    for marker in ("first", "second"):
        send(phone, type="SEND", threadId=thread["id"], body=marker)
    # Each watcher reads until both messages and a TYPING are in (a TYPING relayed by the
    # other chat process may come before or after a message): one TYPING, not five.
    typing = {"type": "TYPING", "user": member["id"], "threadId": thread["id"]}
    for watcher in (laptop, advisor):
        seen = []
        while ([f["body"] for f in seen if f["type"] == "MESSAGE"] != ["first", "second"]
               or typing not in seen):
            seen.append(receive(watcher))
        assert [f for f in seen if f["type"] == "TYPING"] == [typing]
