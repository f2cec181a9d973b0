from rest_framework import serializers

from webhooks.models import Event


class EventSerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(read_only=True)
    data = serializers.DictField(read_only=True, help_text="The object the event is about.")

    class Meta:
        model = Event
        fields = ["id", "type", "created_at", "organization_id", "data"]
        read_only_fields = fields
