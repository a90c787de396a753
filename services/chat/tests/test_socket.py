"""The WebSocket half of CONTRACT.md's chat section, on the app served by uvicorn."""

import asyncio
import base64
import os

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from testsupport.apps import wait_until

FRAME_KEYS = {"type", "id", "threadId", "body", "sender", "senderId", "attachments",
              "timestamp"}


def connect_client(address, token):
    return connect(f"ws://{address}/chat/ws?token={token}", open_timeout=10)


async def closed_with(socket):
    """The close code of a socket the server closes (fails if it sends a frame instead)."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            await socket.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_token_in_the_query_or_as_bearer_subprotocol(served):
    _, token = served.person()
    by_query = await served.connect(token)
    assert by_query.subprotocol is None
    by_subprotocol = await served.connect(token, subprotocol=True, path="/chat/ws/")
    assert by_subprotocol.subprotocol == "bearer"
    for socket in (by_query, by_subprotocol):
        await served.send(socket, type="PING")
        assert (await served.next_frame(socket))["type"] == "ERROR"


async def test_bad_or_missing_token_is_accepted_then_closed_4401(served):
    user_id, _ = served.person()
    for token in (None, "not-a-jwt", served.token(user_id, lifetime=-60)):
        socket = await served.connect(token)
        assert await closed_with(socket) == 4401, token
    assert len(served.app.state.chat.fanout.registry) == 0


async def test_send_acks_the_sender_then_reaches_owner_devices_and_staff(served):
    owner_id, owner = served.person()
    staff_id, staff = served.person("support")
    _, stranger = served.person()
    thread = await served.new_thread(owner)
    phone, laptop = await served.connect(owner), await served.connect(owner)
    advisor, outsider = await served.connect(staff), await served.connect(stranger)

    await served.send(phone, type="SEND", threadId=thread["id"], body="Hello", clientId="c-1")
    ack = await served.next_frame(phone)
    assert ack["type"] == "ACK" and ack["clientId"] == "c-1"
    frame = await served.next_frame(phone)
    assert set(frame) == FRAME_KEYS and frame["id"] == ack["id"]
    assert (frame["type"], frame["threadId"], frame["body"], frame["sender"],
            frame["senderId"], frame["attachments"]) == (
        "MESSAGE", thread["id"], "Hello", "user", owner_id, [])
    assert await served.next_frame(laptop) == frame
    assert await served.next_frame(advisor) == frame
    [stored] = (await served.messages(owner, thread["id"])).json()
    assert (stored["id"], stored["createdAt"]) == (frame["id"], frame["timestamp"])

    # The advisor answers; the owner's sockets get it as support. The outsider got
    # nothing of this thread: the first frame it sees is about its own.
    await served.send(advisor, type="SEND", threadId=thread["id"], body="How can I help?")
    assert (await served.next_frame(advisor))["type"] == "ACK"
    reply = await served.next_frame(phone)
    assert (reply["sender"], reply["senderId"]) == ("support", staff_id)
    assert (await served.next_frame(laptop))["id"] == reply["id"]
    own = await served.new_thread(stranger)
    await served.send(outsider, type="SEND", threadId=own["id"], body="mine")
    assert (await served.next_frame(outsider))["clientId"] is None
    assert (await served.next_frame(outsider))["threadId"] == own["id"]


async def test_a_message_posted_over_rest_is_pushed_to_sockets(served):
    _, owner = served.person()
    _, staff = served.person("admin")
    thread = await served.new_thread(owner)
    member_socket, staff_socket = await served.connect(owner), await served.connect(staff)
    posted = (await served.post(staff, thread["id"], "Your car is ready")).json()
    for socket in (member_socket, staff_socket):
        frame = await served.next_frame(socket)
        assert (frame["type"], frame["id"], frame["sender"], frame["timestamp"]) == (
            "MESSAGE", posted["id"], "support", posted["createdAt"])


async def test_typing_reaches_the_others_but_not_the_sending_socket(served):
    owner_id, owner = served.person()
    _, staff = served.person("support")
    thread = await served.new_thread(owner)
    phone, laptop, advisor = (await served.connect(owner), await served.connect(owner),
                              await served.connect(staff))
    await served.send(phone, type="TYPING", threadId=thread["id"])
    expected = {"type": "TYPING", "user": owner_id, "threadId": thread["id"]}
    assert await served.next_frame(laptop) == expected
    assert await served.next_frame(advisor) == expected
    await served.send(phone, type="SEND", threadId=thread["id"], body="after typing")
    assert (await served.next_frame(phone))["type"] == "ACK"


async def test_bad_frames_answer_error_and_the_socket_stays_open(served):
    _, owner = served.person()
    _, stranger = served.person()
    thread = await served.new_thread(owner)
    elsewhere = await served.new_thread(stranger)
    socket = await served.connect(owner)
    cases = [
        ("{not json", "Frame is not valid JSON"),
        ("[1, 2]", "A frame must be a JSON object"),
        ('{"type": "SHOUT"}', "Unknown frame type: expected SEND or TYPING"),
        ('{"body": "no type"}', "Unknown frame type: expected SEND or TYPING"),
        ('{"type": "SEND", "body": "hi"}', "threadId is required"),
        (f'{{"type": "SEND", "threadId": "{thread["id"]}"}}', "body is required"),
        (f'{{"type": "SEND", "threadId": "{thread["id"]}", "body": " "}}', "body is required"),
        (f'{{"type": "SEND", "threadId": "{elsewhere["id"]}", "body": "hi"}}',
         "Thread not found"),
        (f'{{"type": "TYPING", "threadId": "{elsewhere["id"]}"}}', "Thread not found"),
        ('{"type": "TYPING"}', "threadId is required"),
    ]
    for text, error in cases:
        await socket.send(text)
        assert await served.next_frame(socket) == {"type": "ERROR", "error": error}, text
    await served.send(socket, type="SEND", threadId=thread["id"], body="hi",
                      attachments="nope")
    bad_attachments = await served.next_frame(socket)
    assert bad_attachments["type"] == "ERROR" and "attachments" in bad_attachments["error"]
    await served.send(socket, type="SEND", threadId=thread["id"], body="still here")
    assert (await served.next_frame(socket))["type"] == "ACK"
    assert (await served.messages(stranger, elsewhere["id"])).json() == []


async def test_send_checks_attachments_with_the_senders_token(served, files):
    owner_id, owner = served.person()
    thread = await served.new_thread(owner)
    socket = await served.connect(owner)
    mine, theirs = files.add(owner_id), files.add("someone-else")
    await served.send(socket, type="SEND", threadId=thread["id"], body="x",
                      attachments=[theirs])
    assert await served.next_frame(socket) == {
        "type": "ERROR", "error": f"Attachment not found: {theirs}"}
    await served.send(socket, type="SEND", threadId=thread["id"], body="photo",
                      attachments=[mine], clientId=7)
    assert (await served.next_frame(socket))["clientId"] == 7
    assert (await served.next_frame(socket))["attachments"] == [mine]


async def test_a_socket_is_closed_4401_when_its_token_expires(served):
    user_id, _ = served.person()
    socket = await served.connect(served.token(user_id, lifetime=1))
    assert await closed_with(socket) == 4401
    await wait_until(lambda: len(served.app.state.chat.fanout.registry) == 0)


async def test_heartbeat_drops_a_client_that_does_not_answer_pings(app, serve_over_tcp,
                                                                  person):
    """uvicorn pings every socket; one that does not answer in time is closed and
    leaves the registry. A well-behaved client (which answers) stays connected."""
    registry = app.state.chat.fanout.registry
    _, token = person()
    async with serve_over_tcp(app, ws_ping_interval=0.2, ws_ping_timeout=0.2) as address:
        host, port = address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /chat/ws?token={token} HTTP/1.1\r\nHost: {address}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                      ).encode())
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        await wait_until(lambda: len(registry) == 1)
        async with connect_client(address, token) as answering:
            await wait_until(lambda: len(registry) == 2)
            # The silent one is gone after a ping interval plus a ping timeout ...
            await wait_until(lambda: len(registry) == 1, within=5)
            # ... and the answering one survives several more rounds.
            await asyncio.sleep(1.0)
            assert len(registry) == 1
            await answering.send('{"type": "TYPING"}')
            assert "threadId" in await answering.recv()
        writer.close()
