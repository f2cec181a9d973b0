from django.urls import path

from orgs.api import views

urlpatterns = [
    path("auth/token", views.TokenView.as_view(), name="auth-token"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="me"),
    path("organizations", views.OrganizationsView.as_view(), name="organizations"),
    path(
        "organization",
        views.CurrentOrganizationViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="organization",
    ),
    path("members", views.MemberViewSet.as_view({"get": "list"}), name="members"),
    path(
        "members/<str:user_id>",
        views.MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"}),
        name="member",
    ),
    path(
        "invitations",
        views.InvitationViewSet.as_view({"get": "list", "post": "create"}),
        name="invitations",
    ),
    path("invitations/accept", views.InvitationAcceptView.as_view(), name="invitations-accept"),
    path(
        "invitations/<str:pk>",
        views.InvitationViewSet.as_view({"delete": "destroy"}),
        name="invitation",
    ),
    path(
        "invitations/<str:pk>/resend",
        views.InvitationViewSet.as_view({"post": "resend"}),
        name="invitation-resend",
    ),
]
