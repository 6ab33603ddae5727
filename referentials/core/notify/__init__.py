"""Notifications: subscriptions, an outbox-fed delivery engine and its channels (webhook, ...).

The engine knows no context: contexts (through the composition root) register the event
sources it reads, the audience rules that decide who sees an event, and the channels that
carry a notification (``registry``).
"""
