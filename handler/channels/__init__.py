"""Notification channels: SMN, Feishu/Lark, DingTalk, WeCom, Slack, WeLink, Teams, a webhook and COC.

One record fans out to every configured channel. Each channel has a pure renderer (the record to its
native payload: escaped, size-limited) and a sender (signing, timeouts inside the deadline, retries,
the service's own error codes). `requests` and the SMN and COC SDKs load only when a message is sent.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Where each public name lives. Loaded on first use (PEP 562): configuration is cheap to read on every
# cold start, the renderers and senders load only when there is something to send.
_EXPORTS = {
    "CHANNEL_NAMES": "handler.channels.config",
    "Channel": "handler.channels.config",
    "channel_secrets": "handler.channels.config",
    "configured_channels": "handler.channels.config",
    "narrow_channels": "handler.channels.config",
    "parse_topic_urn": "handler.channels.config",
    "shown_channel_url": "handler.channels.config",
    "DeliveryContext": "handler.channels.context",
    "deliver": "handler.channels.delivery",
    "dispatch": "handler.channels.delivery",
    "render": "handler.channels.delivery",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'handler.channels' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "CHANNEL_NAMES",
    "Channel",
    "DeliveryContext",
    "channel_secrets",
    "configured_channels",
    "deliver",
    "dispatch",
    "narrow_channels",
    "parse_topic_urn",
    "render",
    "shown_channel_url",
]
