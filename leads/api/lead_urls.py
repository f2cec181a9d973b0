from django.urls import path

from leads.api import views

urlpatterns = [
    path("leads", views.LeadViewSet.as_view({"get": "list", "post": "create"}), name="leads"),
    path(
        "leads/<str:pk>",
        views.LeadViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="lead",
    ),
    path(
        "leads/<str:lead_id>/activities",
        views.ActivityViewSet.as_view({"get": "list", "post": "create"}),
        name="lead-activities",
    ),
    path(
        "lead-fields",
        views.LeadFieldViewSet.as_view({"get": "list", "post": "create"}),
        name="lead-fields",
    ),
    path(
        "lead-fields/<str:pk>",
        views.LeadFieldViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="lead-field",
    ),
]
