"""The support admin of identity and organizations.

Organizations are created through the API (their owner, default pipeline and built-in
agents come with them) and memberships change through the API's rules (an org always
keeps an owner), so the admin shows those and edits only plain attributes.
"""

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from orgs import services
from orgs.models import Invitation, Membership, Organization, User


class UserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")

    def clean_email(self):
        # The database refuses emails that differ only in case; say so on the field.
        email = self.cleaned_data["email"]
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("A user with this email already exists.")
        return email


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin):
    """Django's user admin, for a user who signs in with an email and has no username."""

    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "external_subject")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("external_subject", "last_login", "date_joined")
    list_display = ("email", "name", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "name")
    ordering = ("email",)


class MembershipFormSet(BaseInlineFormSet):
    @classmethod
    def get_default_prefix(cls):
        # Django derives it from the reverse accessor, which this relation hides ("+").
        return "memberships"


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    fields = ("user", "role", "created_at")
    readonly_fields = fields
    ordering = ("created_at",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "currency", "created_at", "id")
    search_fields = ("name", "=id")
    fields = ("id", "name", "currency", "created_at", "updated_at")
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = [MembershipInline]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        services.organization_update(obj, **changes)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only but for revoking (deleting). The token's hash is never shown."""

    fields = (
        "email",
        "organization",
        "role",
        "status",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
    )
    readonly_fields = fields
    list_display = ("email", "organization", "role", "status", "created_at", "expires_at")
    list_filter = ("role", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("email",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
