"""The REST half of CONTRACT.md's chat section, on the app in process."""

from testsupport.apps import wait_until

THREAD_KEYS = {"id", "user", "subject", "lastMessage", "createdAt", "updatedAt"}
MESSAGE_KEYS = {"id", "threadId", "sender", "senderId", "body", "attachments", "createdAt"}
NOT_FOUND = {"error": "Thread not found"}


async def test_create_thread_then_post_and_read_messages(api):
    user_id, token = api.person()
    thread = await api.new_thread(token, subject="  Brakes squeak  ")
    assert set(thread) == THREAD_KEYS
    assert thread["user"] == user_id and thread["subject"] == "Brakes squeak"
    assert thread["lastMessage"] is None and thread["createdAt"].endswith("Z")

    response = await api.post(token, thread["id"], "First")
    assert response.status_code == 201
    message = response.json()
    assert set(message) == MESSAGE_KEYS
    assert message["threadId"] == thread["id"] and message["sender"] == "user"
    assert message["senderId"] == user_id and message["attachments"] == []
    await api.post(token, thread["id"], "Second")

    listed = await api.messages(token, thread["id"])
    assert listed.status_code == 200
    assert [m["body"] for m in listed.json()] == ["First", "Second"]
    [mine] = await api.threads(token)
    assert mine["lastMessage"]["body"] == "Second"
    assert mine["updatedAt"] == mine["lastMessage"]["createdAt"] > mine["createdAt"]


async def test_thread_without_body_or_subject(api):
    _, token = api.person()
    response = await api.client.post("/api/chat/threads/", headers=api.bearer(token))
    assert response.status_code == 201 and response.json()["subject"] is None
    assert (await api.new_thread(token, subject="   "))["subject"] is None
    for subject in ("x" * 201, 5):
        refused = await api.client.post("/api/chat/threads/", json={"subject": subject},
                                        headers=api.bearer(token))
        assert refused.status_code == 400 and "subject" in refused.json(), subject


async def test_members_see_their_own_threads_newest_activity_first(api):
    _, token = api.person()
    _, other = api.person()
    older = await api.new_thread(token, subject="older")
    newer = await api.new_thread(token, subject="newer")
    await api.new_thread(other, subject="someone else's")
    assert [t["subject"] for t in await api.threads(token)] == ["newer", "older"]
    await api.post(token, older["id"], "bump")
    assert [t["id"] for t in await api.threads(token)] == [older["id"], newer["id"]]


async def test_support_and_admin_see_every_thread_and_post_as_support(api):
    _, member = api.person()
    thread = await api.new_thread(member)
    for role in ("support", "admin"):
        staff_id, staff = api.person(role)
        assert thread["id"] in [t["id"] for t in await api.threads(staff)]
        response = await api.post(staff, thread["id"], f"{role} here")
        assert response.status_code == 201
        assert (response.json()["sender"], response.json()["senderId"]) == ("support", staff_id)
        assert (await api.messages(staff, thread["id"])).status_code == 200
    bodies = [m["body"] for m in (await api.messages(member, thread["id"])).json()]
    assert bodies == ["support here", "admin here"]


async def test_someone_elses_thread_is_404_on_every_route(api):
    _, owner = api.person()
    _, intruder = api.person()
    thread = await api.new_thread(owner)
    for thread_id in (thread["id"], "no-such-thread"):
        read = await api.messages(intruder, thread_id)
        assert (read.status_code, read.json()) == (404, NOT_FOUND)
        written = await api.post(intruder, thread_id, "hi")
        assert (written.status_code, written.json()) == (404, NOT_FOUND)
    assert await api.threads(intruder) == []
    assert (await api.messages(owner, thread["id"])).json() == []


async def test_since_returns_only_later_messages(api):
    _, token = api.person()
    thread = await api.new_thread(token)
    first = (await api.post(token, thread["id"], "one")).json()
    await api.post(token, thread["id"], "two")
    await api.post(token, thread["id"], "three")
    later = await api.messages(token, thread["id"], since=first["createdAt"])
    assert [m["body"] for m in later.json()] == ["two", "three"]
    with_offset = first["createdAt"].replace("Z", "+00:00")
    assert len((await api.messages(token, thread["id"], since=with_offset)).json()) == 2
    # An unescaped "+" arrives as a space; it still means the UTC offset.
    spaced = await api.client.get(
        f"/api/chat/threads/{thread['id']}/messages/?since={with_offset}",
        headers=api.bearer(token))
    assert [m["body"] for m in spaced.json()] == ["two", "three"]
    assert len((await api.messages(token, thread["id"], since="2000-01-01")).json()) == 3
    assert (await api.messages(token, thread["id"], since="2999-01-01T00:00:00Z")).json() == []


async def test_bad_since_is_400(api):
    _, token = api.person()
    thread = await api.new_thread(token)
    for since in ("yesterday", "2024-13-01T00:00:00Z", "1700000000"):
        response = await api.messages(token, thread["id"], since=since)
        assert response.status_code == 400 and "since" in response.json(), since


async def test_missing_or_empty_body_is_400_body_is_required(api):
    _, token = api.person()
    thread = await api.new_thread(token)
    path = f"/api/chat/threads/{thread['id']}/messages/"
    for payload in ({}, {"body": ""}, {"body": "   "}, {"body": None}, {"attachments": []}):
        response = await api.client.post(path, json=payload, headers=api.bearer(token))
        assert (response.status_code, response.json()) == (400, {"error": "body is required"})
    empty = await api.client.post(path, headers=api.bearer(token))
    assert (empty.status_code, empty.json()) == (400, {"error": "body is required"})


async def test_malformed_message_fields_are_400_field_maps(api):
    _, token = api.person()
    thread = await api.new_thread(token)
    path = f"/api/chat/threads/{thread['id']}/messages/"
    cases = [({"body": 5}, "body"), ({"body": "x" * 10_001}, "body"),
             ({"body": "hi", "attachments": "abc"}, "attachments"),
             ({"body": "hi", "attachments": ["ok", 7]}, "attachments.1"),
             ({"body": "hi", "attachments": [str(i) for i in range(11)]}, "attachments"),
             (["body"], "nonFieldErrors")]
    for payload, field in cases:
        response = await api.client.post(path, json=payload, headers=api.bearer(token))
        assert response.status_code == 400 and field in response.json(), payload
    malformed = await api.client.post(path, content=b"{", headers={
        **api.bearer(token), "Content-Type": "application/json"})
    assert (malformed.status_code, malformed.json()) == (400, {"error": "Malformed JSON body."})
    assert (await api.messages(token, thread["id"])).json() == []


async def test_attachments_must_be_the_senders_files(api, files):
    user_id, token = api.person()
    _, other = api.person()
    thread = await api.new_thread(token)
    mine, theirs = files.add(user_id), files.add("someone-else")
    response = await api.post(token, thread["id"], "see attached", attachments=[mine])
    assert response.status_code == 201 and response.json()["attachments"] == [mine]
    for bad in (theirs, "../../auth/me", "unknown-id"):
        refused = await api.post(token, thread["id"], "x", attachments=[mine, bad])
        assert (refused.status_code, refused.json()) == (
            400, {"error": f"Attachment not found: {bad}"})
    # The traversal attempt never reached the files service.
    assert all(path.count("/") == 4 for path in files.calls)
    # Someone else's thread is a 404 before the files service is asked.
    calls = len(files.calls)
    hidden = await api.post(other, thread["id"], "x", attachments=[mine])
    assert hidden.status_code == 404 and len(files.calls) == calls
    assert len((await api.messages(token, thread["id"])).json()) == 1


async def test_files_service_down_is_503_only_for_attachments(api, files):
    user_id, token = api.person()
    thread = await api.new_thread(token)
    files.down = True
    response = await api.post(token, thread["id"], "x", attachments=[files.add(user_id)])
    assert (response.status_code, response.json()) == (
        503, {"error": "Service unavailable: files"})
    assert (await api.post(token, thread["id"], "no attachments")).status_code == 201


async def test_every_route_needs_a_token(api):
    for method, path in (("GET", "/api/chat/threads/"), ("POST", "/api/chat/threads/"),
                         ("GET", "/api/chat/threads/x/messages/"),
                         ("POST", "/api/chat/threads/x/messages/")):
        response = await api.client.request(method, path)
        assert response.status_code == 401 and "error" in response.json()


async def test_a_stored_message_publishes_chat_message_created(api, recorder, app):
    owner_id, token = api.person()
    staff_id, staff = api.person("support")
    thread = await api.new_thread(token)
    message = (await api.post(staff, thread["id"], "Hi, how can I help?")).json()
    await wait_until(lambda: recorder.of("chat.message.created"))
    [event] = recorder.of("chat.message.created")
    assert event.producer == "chat"
    assert event.data == {
        "messageId": message["id"], "threadId": thread["id"], "userId": owner_id,
        "sender": "support", "senderId": staff_id, "body": "Hi, how can I help?",
        "attachments": [], "createdAt": message["createdAt"],
        "origin": app.state.chat.fanout.replica_id}
    # A refused message publishes nothing.
    await api.post(token, thread["id"], "")
    await api.post(token, thread["id"], "ok")
    await wait_until(lambda: len(recorder.of("chat.message.created")) == 2)
    assert recorder.of("chat.message.created")[1].data["body"] == "ok"


async def test_openapi_documents_400_not_422(api):
    schema = (await api.client.get("/openapi.json")).json()
    post_message = schema["paths"]["/api/chat/threads/{thread_id}/messages/"]["post"]
    assert "422" not in post_message["responses"] and "requestBody" in post_message
