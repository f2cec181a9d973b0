from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("events", views.EventViewSet.as_view({"get": "list"}), name="events"),
    path("events/<str:pk>", views.EventViewSet.as_view({"get": "retrieve"}), name="event"),
]
