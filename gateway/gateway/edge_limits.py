"""The login and registration limits: which windows an attempt reserves, which outcomes keep it.

- A login reserves a slot per e-mail and per client address before it reaches auth. Only a
  credential failure (auth's 401) keeps them; any other outcome (success, a bad request, a
  service error, a client gone) gives them back. So N concurrent wrong guesses for one
  e-mail reach auth at most ``limit`` times, and logging in never spends the failure budget.
- A registration reserves a slot per client address and keeps it whatever auth answers
  (a 409 tells whether an e-mail has an account, so refused attempts must count too);
  only a 5xx, where nothing was registered, gives it back.

When the store is unreachable, logins fail closed (the caller answers 503: without the
store the failure budget cannot be enforced) and registrations fall back to this process's
memory, so sign-ups keep working under a per-replica limit.

E-mails are keyed by a hash: keys stay short whatever the body holds, and the store never
holds an address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.types import Message, Send

from gateway.ratelimit import LimitStore, LimitStoreUnavailable, Reservation, Window


def _enabled(window: Window) -> list[Window]:
    return [window] if window.limit > 0 else []


class EdgeLimits:
    """Reserve before forwarding, settle once auth has answered."""

    def __init__(self, store: LimitStore, *, login_failures_per_email: Window,
                 login_failures_per_ip: Window, registrations_per_ip: Window,
                 fallback: LimitStore) -> None:
        self.store = store
        self.fallback = fallback
        # A limit of 0 (or less) turns that window off.
        self._per_email = _enabled(login_failures_per_email)
        self._per_ip = _enabled(login_failures_per_ip)
        self._registrations = _enabled(registrations_per_ip)

    async def reserve_login(self, client_address: str, email: str | None) -> Reservation:
        """Slots for one login attempt. Raises ``LimitStoreUnavailable``: fail closed."""
        slots = [(window, client_address) for window in self._per_ip]
        if email is not None:
            key = hashlib.blake2b(email.encode("utf-8", "surrogatepass"),
                                  digest_size=16).hexdigest()
            slots += [(window, key) for window in self._per_email]
        if not slots:
            return Reservation()
        return await self.store.reserve(slots)

    @staticmethod
    async def settle_login(reservation: Reservation, status: int) -> None:
        if status != 401:
            await reservation.release()

    async def reserve_registration(self, client_address: str) -> Reservation:
        """A slot for one registration, from this process's memory while the store is down."""
        slots = [(window, client_address) for window in self._registrations]
        if not slots:
            return Reservation()
        try:
            return await self.store.reserve(slots)
        except LimitStoreUnavailable:
            return await self.fallback.reserve(slots)

    @staticmethod
    async def settle_registration(reservation: Reservation, status: int) -> None:
        if status >= 500:
            await reservation.release()

    async def aclose(self) -> None:
        await self.store.aclose()


def settling_send(send: Send, settle: Callable[[int], Awaitable[None]]
                  ) -> tuple[Send, Callable[[int], Awaitable[None]]]:
    """A ``send`` that settles a limit reservation by the answer's status before the answer
    leaves (a client that logs in again at once must find the slot given back), and the
    call that settles it afterwards if no answer left (once, either way)."""
    done = False

    async def settle_once(status: int) -> None:
        nonlocal done
        if not done:
            done = True
            await settle(status)

    async def settling(message: Message) -> None:
        if message["type"] == "http.response.start":
            await settle_once(message["status"])
        await send(message)

    return settling, settle_once
