"""Notifications: alarm notices queued durably in the outbox and delivered by webhook, e-mail or SMS.

The alarm code queues a notice with :func:`enqueue` inside the transaction that stores the
alarm change, for the channels :meth:`NotifyConfig.channels_for` names; the :class:`Dispatcher`
claims due rows in the database (so two dispatchers never send one row at once), delivers them
from the event loop, records outcomes on a thread of its own and retries with backoff. See
``dispatcher.py`` for why a slow receiver cannot slow ingest.
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
from forewarn.alarms.notify.dispatcher import Dispatcher, dispatcher_id
from forewarn.alarms.notify.outbox import OutboxItem, enqueue, notice_of, payload_of
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
    "SmsConfig",
    "WebhookConfig",
    "dispatcher_id",
    "email_message",
    "enqueue",
    "load_notify_config",
    "notice_of",
    "payload_of",
    "sign",
    "verify",
]
