"""Admin: everything is read-only. Balances change only through the queue."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from web.wallets.models import Wallet, WalletOperation


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ("id", "balance", "created_at", "updated_at")
    readonly_fields = ("id", "balance", "created_at", "updated_at", "history")
    search_fields = ("=id",)
    show_full_result_count = False

    @admin.display(description="Operations")
    def history(self, obj: Wallet) -> str:
        url = reverse("admin:wallets_walletoperation_changelist") + f"?wallet__id__exact={obj.id}"
        return format_html('<a href="{}">Ledger of this wallet</a>', url)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WalletOperation)
class WalletOperationAdmin(admin.ModelAdmin):
    list_display = ("id", "wallet", "operation_type", "amount", "status", "balance_after", "error", "applied_at")
    list_filter = ("operation_type", "status")
    search_fields = ("=id", "=wallet__id")
    readonly_fields = tuple(f.name for f in WalletOperation._meta.fields)
    ordering = ("-seq",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
