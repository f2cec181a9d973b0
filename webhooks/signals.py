from django.dispatch import Signal

# Sent once the transaction that wrote an event has committed, with ``event_id``,
# ``organization_id`` and ``type``. Webhook delivery connects here; emitters never
# need to know who listens.
event_committed = Signal()
