from django.dispatch import Signal

# Sent inside the transaction that creates an organization, with ``organization`` and
# ``owner``. Apps that give a new org its defaults (the default pipeline, the built-in
# agents) connect a receiver here, in their AppConfig.ready().
organization_created = Signal()

# Sent inside the transaction that removes a member, with ``organization_id``, ``user_id``
# (who left) and ``actor_id`` (who removed them). Apps that point at members (the owners
# of leads) let go of them here.
membership_removed = Signal()
