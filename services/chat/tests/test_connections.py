"""The per-process socket registry: who gets a frame, and slow sockets hurt nobody else."""

import asyncio

from chat.connections import CLOSE_TOO_SLOW, ConnectionRegistry
from testsupport.apps import wait_until


class FakeSocket:
    """Records what it is sent; a ``stuck`` socket never finishes a send (a client that
    stopped reading)."""

    def __init__(self, stuck=False):
        self.sent = []
        self.closed_with = None
        self.stuck = stuck

    async def send_text(self, data):
        if self.stuck:
            await asyncio.Event().wait()
        self.sent.append(data)

    async def close(self, code=1000, reason=None):
        if self.stuck:
            await asyncio.Event().wait()
        self.closed_with = code


async def test_a_thread_frame_goes_to_the_owner_and_staff_but_not_others():
    registry = ConnectionRegistry()
    phone, laptop, advisor, stranger = FakeSocket(), FakeSocket(), FakeSocket(), FakeSocket()
    owner_phone = registry.add(phone, "owner", staff=False)
    registry.add(laptop, "owner", staff=False)
    registry.add(advisor, "advisor", staff=True)
    registry.add(stranger, "stranger", staff=False)
    assert registry.push_to_thread("owner", "frame") == 3
    assert registry.push_to_thread("owner", "typing", skip=owner_phone) == 2
    await wait_until(lambda: len(laptop.sent) == 2 and len(advisor.sent) == 2)
    assert phone.sent == ["frame"] and laptop.sent == ["frame", "typing"]
    assert stranger.sent == [] and len(registry) == 4


async def test_a_staff_members_own_thread_reaches_each_of_their_sockets_once():
    registry = ConnectionRegistry()
    advisor = FakeSocket()
    registry.add(advisor, "advisor", staff=True)
    assert registry.push_to_thread("advisor", "frame") == 1


async def test_frames_reach_a_socket_in_the_order_they_were_pushed():
    registry = ConnectionRegistry()
    socket = FakeSocket()
    registry.add(socket, "owner", staff=False)
    for i in range(50):
        registry.push_to_thread("owner", str(i))
    await wait_until(lambda: len(socket.sent) == 50)
    assert socket.sent == [str(i) for i in range(50)]


async def test_a_socket_that_does_not_read_is_dropped_and_delays_nobody():
    registry = ConnectionRegistry(send_timeout=0.2)
    stuck, healthy = FakeSocket(stuck=True), FakeSocket()
    registry.add(stuck, "owner", staff=False)
    registry.add(healthy, "advisor", staff=True)
    registry.push_to_thread("owner", "one")
    await wait_until(lambda: healthy.sent == ["one"], within=0.1)
    await wait_until(lambda: len(registry) == 1, within=5)
    assert registry.push_to_thread("owner", "two") == 1
    await wait_until(lambda: healthy.sent == ["one", "two"])
    await registry.aclose()


async def test_a_socket_whose_backlog_overflows_is_dropped_and_closed():
    registry = ConnectionRegistry(send_timeout=30, backlog_limit=3)
    socket = FakeSocket(stuck=True)
    connection = registry.add(socket, "owner", staff=False)
    for i in range(4):
        registry.push_to_thread("owner", str(i))
    assert len(registry) == 0 and not connection.open
    # The stuck send was abandoned; the close, scheduled but not yet run, gets through
    # once the socket takes frames again.
    socket.stuck = False
    await wait_until(lambda: socket.closed_with == CLOSE_TOO_SLOW)
    assert socket.sent == []


async def test_remove_is_idempotent():
    registry = ConnectionRegistry()
    connection = registry.add(FakeSocket(), "owner", staff=True)
    registry.remove(connection)
    registry.remove(connection)
    assert len(registry) == 0 and registry.push_to_thread("owner", "x") == 0
