from django.dispatch import Signal

# Sent inside the transaction that creates an organization, with ``organization`` and
# ``owner``. Apps that give a new org its defaults (the default pipeline, the built-in
# agents) connect a receiver here, in their AppConfig.ready().
organization_created = Signal()
