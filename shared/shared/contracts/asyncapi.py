"""The platform's events as an AsyncAPI 3 document, generated from the catalogue.

One channel per contract (type, major version), whose address is its routing key on the
topic exchange (the type, with ``.v<N>`` past version 1) and whose message is the envelope
with the contract's JSON Schema as ``data``. Operations say who sends each (the publishing
service in ``shared.catalog``) and who receives it (each consumer queue of
``shared.events.catalog``, named ``<service>.<purpose>``). The gateway serves it at
``/api/events/asyncapi.json`` with a readable page at ``/api/events/``.
"""

from __future__ import annotations

import html
from typing import Any

from shared.catalog import SERVICES
from shared.contracts import CONTRACTS, Registry
from shared.events.bus import EXCHANGE
from shared.events.catalog import QUEUES

ASYNCAPI_VERSION = "3.0.0"

_ENVELOPE = {
    "id": {"type": "string", "description": "uuid; consumers apply an event once per id"},
    "version": {"type": "integer", "description": "major version of data's contract"},
    "occurredAt": {"type": "string", "format": "date-time"},
    "producer": {"type": "string"},
    "correlationId": {"type": ["string", "null"],
                      "description": "request id of the gateway request that started it"},
    "causationId": {"type": ["string", "null"],
                    "description": "id of the event whose handler staged this one"},
    "traceparent": {"type": "string", "description": "W3C trace context, when tracing is on"},
}


def _channel_id(event_type: str) -> str:
    return event_type.replace(".", "-")


def document(contracts: Registry = CONTRACTS) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``contracts``."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    publishers = {t: s.name for s in SERVICES for t in s.publishes}
    for contract in contracts:  # one channel per routing key: each major version its own
        event_type, key, name = contract.TYPE, contract.routing_key(), contract.__name__
        channel = _channel_id(key)
        schema = contract.model_json_schema(by_alias=True, ref_template=(
            "#/components/schemas/{model}"))
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        messages[name] = {
            "name": name, "title": f"{event_type} v{contract.VERSION}",
            "summary": (contract.__doc__ or "").strip().split("\n\n")[0],
            "contentType": "application/json",
            "payload": {"type": "object", "required": ["id", "type", "version",
                                                       "occurredAt", "producer", "data"],
                        "properties": {
                            "type": {"const": event_type},
                            **_ENVELOPE,
                            "version": {"const": contract.VERSION, "type": "integer"},
                            "data": {"$ref": f"#/components/schemas/{name}"}}}}
        refs = {name: {"$ref": f"#/components/messages/{name}"}}
        channels[channel] = {"address": key, "title": f"{event_type} v{contract.VERSION}",
                             "messages": refs,
                             "bindings": {"amqp": {"is": "routingKey", "exchange": {
                                 "name": EXCHANGE, "type": "topic", "durable": True}}}}
        channel_messages = [{"$ref": f"#/channels/{channel}/messages/{n}"} for n in refs]
        producer = publishers.get(key)
        if producer:
            operations[f"{producer}-sends-{channel}"] = {
                "action": "send", "channel": {"$ref": f"#/channels/{channel}"},
                "title": f"{producer} publishes {key}", "messages": channel_messages}
        for queue, keys in sorted(QUEUES.items()):
            if key in keys:
                consumer = queue.split(".", 1)[0]
                operations[f"{queue.replace('.', '-')}-receives-{channel}"] = {
                    "action": "receive", "channel": {"$ref": f"#/channels/{channel}"},
                    "title": f"{consumer} consumes {key} (queue {queue})",
                    "messages": channel_messages,
                    "bindings": {"amqp": {"queue": {"name": queue, "durable": True}}}}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "Membership Auto events", "version": "1.0.0",
                 "description": "Integration events on the topic exchange "
                                f"`{EXCHANGE}`; the routing key is the event type, with `.v<N>` "
                                "past major version 1."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def page(doc: dict[str, Any], *, json_url: str) -> bytes:
    """A self-contained HTML page of ``doc``: per event type, who sends it, who receives
    it, and each version's fields (no external assets)."""
    rows = []
    for channel in doc["channels"].values():
        address = channel["address"]
        ops = [op for op in doc["operations"].values()
               if op["channel"]["$ref"].endswith("/" + address.replace(".", "-"))]
        senders = [op["title"] for op in ops if op["action"] == "send"]
        receivers = [op["title"] for op in ops if op["action"] == "receive"]
        versions = []
        for ref in channel["messages"].values():
            name = ref["$ref"].rsplit("/", 1)[1]
            schema = doc["components"]["schemas"][name]
            required = set(schema.get("required", ()))
            fields = "".join(
                f"<li><code>{html.escape(field)}</code> {html.escape(_type(spec))}"
                f"{'' if field in required else ' (optional)'}</li>"
                for field, spec in schema.get("properties", {}).items())
            message = doc["components"]["messages"][name]
            versions.append(f"<h3>{html.escape(message['title'])}</h3>"
                            f"<p>{html.escape(message['summary'])}</p><ul>{fields}</ul>")
        rows.append(
            f"<section id='{html.escape(address)}'><h2><code>{html.escape(address)}</code></h2>"
            f"<p>Sent by: {html.escape('; '.join(senders) or 'nobody')}<br>"
            f"Received by: {html.escape('; '.join(receivers) or 'no durable queue')}</p>"
            f"{''.join(versions)}</section>")
    title = html.escape(doc["info"]["title"])
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
            "section{border-top:1px solid #ccc}code{background:#f4f4f4}</style></head><body>"
            f"<h1>{title}</h1><p>{html.escape(doc['info']['description'])} AsyncAPI "
            f"{html.escape(doc['asyncapi'])} document: <a href='{html.escape(json_url)}'>"
            f"{html.escape(json_url)}</a>.</p>{''.join(rows)}</body></html>").encode()


def _type(spec: dict[str, Any]) -> str:
    if "anyOf" in spec:
        return " | ".join(_type(option) for option in spec["anyOf"])
    if spec.get("type") == "array":
        return f"array of {_type(spec.get('items', {}))}"
    return str(spec.get("type", spec.get("$ref", "any").rsplit("/", 1)[-1]))
