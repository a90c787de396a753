"""Events of the chat service.

Published through the outbox by :func:`chat.threads.post_message`, in the message's
transaction:

- ``chat.message.created`` ``{messageId, threadId, userId, sender}`` as in CONTRACT.md
  (``userId`` is the thread's owner), plus what a ``MESSAGE`` frame needs
  (``senderId, body, attachments, createdAt``) and ``origin``, the id of the process
  that stored it.

Published straight on the bus (ephemeral, not through the outbox):

- ``chat.typing`` ``{threadId, userId, user, origin}``: ``user`` is typing in the
  thread owned by ``userId``.

Chat consumes no other service's events. Every chat process subscribes to both of its
own types as a *broadcast* (its own live queue; see :mod:`chat.fanout`) to push them to
its sockets; there is no durable consumer queue.
"""

MESSAGE_CREATED = "chat.message.created"
TYPING = "chat.typing"
PRODUCER = "chat"
