from django.urls import path

from leads.api.import_views import LeadImportIssueViewSet, LeadImportViewSet

urlpatterns = [
    path(
        "lead-imports",
        LeadImportViewSet.as_view({"get": "list", "post": "create"}),
        name="lead-imports",
    ),
    path(
        "lead-imports/<str:pk>",
        LeadImportViewSet.as_view({"get": "retrieve"}),
        name="lead-import",
    ),
    path(
        "lead-imports/<str:pk>/cancel",
        LeadImportViewSet.as_view({"post": "cancel"}),
        name="lead-import-cancel",
    ),
    path(
        "lead-imports/<str:pk>/errors",
        LeadImportIssueViewSet.as_view({"get": "list"}),
        name="lead-import-errors",
    ),
]
