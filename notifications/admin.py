from django.contrib import admin

from notifications.models import Notification, Problem


class ReadOnlyAdmin(admin.ModelAdmin):
    """Problems and notifications are written by the services only; the admin looks."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Problem)
class ProblemAdmin(ReadOnlyAdmin):
    list_display = ["kind", "key", "app_group", "status", "code", "opened_at", "ended_at"]
    list_filter = ["status", "kind"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["title", "user", "app_group", "resolved", "created_at", "read_at"]
    list_filter = ["resolved"]
    list_select_related = ["user", "app_group"]
