"""Notifications: alarm notices queued durably in the outbox and delivered by webhook, e-mail or SMS.

The alarm code queues a notice with :func:`enqueue` inside the transaction that stores the
alarm change, for the channels :meth:`NotifyConfig.channels_for` names; the :class:`Dispatcher`
delivers due rows on the event loop and records outcomes through the single writer, retrying
with backoff. See ``dispatcher.py`` for why a slow receiver cannot slow ingest.
"""

from forewarn.alarms.notify.channel_config import ChannelConfig, EmailConfig, SmsConfig, WebhookConfig
from forewarn.alarms.notify.channels import Channel, DeliveryError, email_message
from forewarn.alarms.notify.config import (
    DEFAULT_EVENTS,
    EVENTS,
    NotifyConfig,
    NotifyConfigError,
    Route,
    load_notify_config,
)
from forewarn.alarms.notify.dispatcher import Dispatcher, RunWrite
from forewarn.alarms.notify.outbox import (
    OutboxItem,
    due,
    enqueue,
    give_up_stranded,
    mark_delivered,
    mark_failed,
    pending_count,
)
from forewarn.alarms.notify.policy import DeliveryPolicy
from forewarn.alarms.notify.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, sign, verify

__all__ = [
    "DEFAULT_EVENTS",
    "EVENTS",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "Channel",
    "ChannelConfig",
    "DeliveryError",
    "DeliveryPolicy",
    "Dispatcher",
    "EmailConfig",
    "NotifyConfig",
    "NotifyConfigError",
    "OutboxItem",
    "Route",
    "RunWrite",
    "SmsConfig",
    "WebhookConfig",
    "due",
    "email_message",
    "enqueue",
    "give_up_stranded",
    "load_notify_config",
    "mark_delivered",
    "mark_failed",
    "pending_count",
    "sign",
    "verify",
]
