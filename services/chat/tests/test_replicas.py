"""Two chat replicas on one PostgreSQL database and one RabbitMQ: delivery across them."""


async def test_messages_and_typing_cross_replicas_both_ways(replicas):
    one, two = replicas
    member_id, member = one.person()
    staff_id, staff = one.person("support")
    thread = await one.new_thread(member)
    member_socket = await one.connect(member)
    staff_socket = await two.connect(staff)

    await one.send(member_socket, type="SEND", threadId=thread["id"], body="Hi", clientId="a")
    ack = await one.next_frame(member_socket)
    assert (ack["type"], ack["clientId"]) == ("ACK", "a")
    own_copy = await one.next_frame(member_socket)
    remote_copy = await two.next_frame(staff_socket)
    assert own_copy == remote_copy and remote_copy["id"] == ack["id"]
    assert (remote_copy["senderId"], remote_copy["body"]) == (member_id, "Hi")

    await two.send(staff_socket, type="SEND", threadId=thread["id"], body="Hello!")
    assert (await two.next_frame(staff_socket))["type"] == "ACK"
    reply = await one.next_frame(member_socket)
    assert (reply["sender"], reply["senderId"], reply["body"]) == ("support", staff_id,
                                                                  "Hello!")
    assert (await two.next_frame(staff_socket))["id"] == reply["id"]

    await one.send(member_socket, type="TYPING", threadId=thread["id"])
    assert await two.next_frame(staff_socket) == {
        "type": "TYPING", "user": member_id, "threadId": thread["id"]}

    # REST posts on either replica reach the sockets of both (in either order: one copy
    # is local, the other crossed the broker).
    by_member = (await one.post(member, thread["id"], "via replica one")).json()
    by_staff = (await two.post(staff, thread["id"], "via replica two")).json()
    for replica, socket in ((one, member_socket), (two, staff_socket)):
        received = {(await replica.next_frame(socket))["id"] for _ in range(2)}
        assert received == {by_member["id"], by_staff["id"]}
    bodies = [m["body"] for m in (await two.messages(member, thread["id"])).json()]
    assert bodies == ["Hi", "Hello!", "via replica one", "via replica two"]

    # Nothing arrived twice: the next frame on each socket is a fresh marker.
    marker = (await one.post(staff, thread["id"], "marker")).json()
    assert (await one.next_frame(member_socket))["id"] == marker["id"]
    assert (await two.next_frame(staff_socket))["id"] == marker["id"]
