from django.contrib import admin

from partners.models import TikTokAdAccount, TikTokConnection


class TikTokAdAccountInline(admin.TabularInline):
    model = TikTokAdAccount
    extra = 0
    fields = ["advertiser_id", "name", "status", "connected_at", "disconnected_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(TikTokConnection)
class TikTokConnectionAdmin(admin.ModelAdmin):
    # The token is never shown, not even encrypted.
    exclude = ["access_token_ciphertext"]
    list_display = ["app_group", "status", "tiktok_user_name", "connected_by", "connected_at"]
    list_filter = ["status"]
    readonly_fields = [
        "app_group", "status", "scope", "tiktok_user_name", "tiktok_user_id", "connected_by",
        "connected_at", "disconnected_at", "invalid_code", "invalid_message", "invalid_at",
        "last_checked_at",
    ]  # fmt: skip
    inlines = [TikTokAdAccountInline]

    def has_add_permission(self, request):
        # Connections come from TikTok's OAuth flow only.
        return False
