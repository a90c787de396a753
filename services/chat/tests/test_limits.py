"""Per-socket frame limits: the token bucket and the TYPING interval (``chat.limits``) on
a clock the tests drive, then on sockets of the app served by uvicorn."""

import asyncio
import contextlib
import json

from websockets.asyncio.client import connect

from chat.limits import FrameLimiter
from chat.settings import ChatSettings

T0 = 1000.0


def allowed(limiter: FrameLimiter, times: list[float]) -> int:
    return sum(limiter.allow(t) for t in times)


def test_the_default_is_500_frames_a_second():
    assert ChatSettings().ws_frames_per_second == 500


def test_a_seconds_worth_of_frames_passes_at_once_then_the_rest_is_refused():
    limiter = FrameLimiter(500, T0)
    assert allowed(limiter, [T0] * 500) == 500
    assert not limiter.allow(T0)
    assert not limiter.allow(T0 + 0.001)  # 0.5 of a token back: not a whole one
    assert limiter.allow(T0 + 0.0025)


def test_200_send_a_second_on_one_socket_never_hit_the_default_limit():
    limiter = FrameLimiter(500, T0)
    steady = [T0 + i / 200 for i in range(200 * 60)]
    assert allowed(limiter, steady) == len(steady)
    # A load tool that fell behind by a second catches up in one burst: still under.
    assert allowed(limiter, [T0 + 61] * 200) == 200


def test_a_flood_gets_the_rate_and_no_more():
    limiter = FrameLimiter(500, T0)
    flood = [T0 + i / 5000 for i in range(50_000)]  # 5,000 frames a second for 10 s
    assert 500 * 10 <= allowed(limiter, flood) <= 500 * 10 + 500


def test_the_bucket_refills_at_the_rate_and_holds_at_most_a_seconds_worth():
    limiter = FrameLimiter(10, T0)
    assert allowed(limiter, [T0] * 20) == 10
    assert allowed(limiter, [T0 + 0.5] * 20) == 5
    assert allowed(limiter, [T0 + 3600] * 20) == 10  # an idle hour saves up one second


def test_a_rate_below_one_still_lets_one_frame_through():
    limiter = FrameLimiter(0.5, T0)
    assert (limiter.allow(T0), limiter.allow(T0), limiter.allow(T0 + 2)) == (True, False, True)


def test_typing_is_due_once_a_second_per_thread():
    limiter = FrameLimiter(500, T0)
    assert limiter.typing_due("a", T0)
    assert not limiter.typing_due("a", T0 + 0.5)
    assert limiter.typing_due("b", T0 + 0.5)  # another thread is its own
    assert not limiter.typing_due("a", T0 + 0.999)
    assert limiter.typing_due("a", T0 + 1.0)
    assert not limiter.typing_due("b", T0 + 1.2)


def test_the_threads_typing_is_remembered_for_stay_bounded():
    limiter = FrameLimiter(500, T0)
    for second in range(100):
        for thread in range(50):
            assert limiter.typing_due(f"thread-{second}-{thread}", T0 + second)
    assert len(limiter._typed or {}) <= 16 + 50
    assert not limiter.typing_due("thread-99-0", T0 + 99.5)


# -- on sockets -----------------------------------------------------------------------


async def test_a_frame_over_the_rate_is_answered_error_and_the_socket_stays_open(
        served_with):
    # 0.01 a second: one frame now, the next one in 100 s.
    async with served_with(ws_frames_per_second=0.01) as served:
        _, owner = served.person()
        thread = await served.new_thread(owner)
        socket = await served.connect(owner)
        await served.send(socket, type="SEND", threadId=thread["id"], body="first")
        assert (await served.next_frame(socket))["type"] == "ACK"
        assert (await served.next_frame(socket))["body"] == "first"
        for frame in ({"type": "SEND", "threadId": thread["id"], "body": "second"},
                      {"type": "TYPING", "threadId": thread["id"]}, "not even JSON"):
            await socket.send(frame if isinstance(frame, str) else json.dumps(frame))
            assert await served.next_frame(socket) == {
                "type": "ERROR", "error": "Too many frames: at most 0.01 a second on one socket"}
        assert [m["body"] for m in (await served.messages(owner, thread["id"])).json()] == [
            "first"]
        # Still open and registered: a message posted over REST reaches it.
        await served.post(owner, thread["id"], "over REST")
        assert (await served.next_frame(socket))["body"] == "over REST"


async def test_typing_fans_out_once_a_second_per_socket_and_thread(served):
    owner_id, owner = served.person()
    _, staff = served.person("support")
    thread, other = await served.new_thread(owner), await served.new_thread(owner)
    phone, laptop, advisor = (await served.connect(owner), await served.connect(owner),
                              await served.connect(staff))

    def typing(thread_id):
        return {"type": "TYPING", "user": owner_id, "threadId": thread_id}

    for _ in range(5):
        await served.send(phone, type="TYPING", threadId=thread["id"])
    await served.send(phone, type="TYPING", threadId=other["id"])
    await served.send(laptop, type="TYPING", threadId=thread["id"])  # a socket of its own
    await served.send(phone, type="SEND", threadId=thread["id"], body="done typing")
    # The phone's frames reach the laptop in order: one TYPING per thread, the message.
    laptop_frames = [await served.next_frame(laptop) for _ in range(3)]
    assert laptop_frames[:2] == [typing(thread["id"]), typing(other["id"])]
    assert laptop_frames[2]["body"] == "done typing"
    # The advisor also sees the laptop's own TYPING (the two sockets run side by side).
    advisor_frames = [await served.next_frame(advisor) for _ in range(4)]
    assert sorted(json.dumps(f, sort_keys=True) for f in advisor_frames
                  if f["type"] == "TYPING") == sorted(json.dumps(f, sort_keys=True) for f in (
                      typing(thread["id"]), typing(thread["id"]), typing(other["id"])))
    assert [f["body"] for f in advisor_frames if f["type"] == "MESSAGE"] == ["done typing"]
    # A second later the thread's TYPING is fanned out again.
    await asyncio.sleep(1.1)
    await served.send(phone, type="TYPING", threadId=thread["id"])
    assert await served.next_frame(laptop) == typing(thread["id"])


async def test_a_flood_is_answered_frame_by_frame_and_the_socket_stays_open(served_with):
    async with served_with(ws_frames_per_second=10) as served:
        _, owner = served.person()
        thread = await served.new_thread(owner)
        # A client that reads everything that arrives (no 16-frame receive queue).
        async with connect(f"ws://{served.address}/chat/ws?token={owner}",
                           max_queue=None, open_timeout=10) as socket:
            flood = json.dumps({"type": "TYPING", "threadId": thread["id"]})
            for _ in range(2000):
                await socket.send(flood)
            errors = []
            with contextlib.suppress(TimeoutError):
                while True:  # until the answers stop coming
                    errors.append(json.loads(await asyncio.wait_for(socket.recv(), 2)))
            assert 1000 <= len(errors) < 2000
            assert all(error == {"type": "ERROR", "error": "Too many frames: at most 10 a "
                                 "second on one socket"} for error in errors)
            await socket.send(json.dumps({"type": "SEND", "threadId": thread["id"],
                                          "body": "still open", "clientId": "after"}))
            ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert (ack["type"], ack["clientId"]) == ("ACK", "after")
