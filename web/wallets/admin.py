"""Admin: wallets, transfers, holds, the ledger and webhooks are read-only (balances change only
through the queue; a webhook secret is never shown); API keys can be revoked, and a tenant's
wallet quota changed. Keys are made with ``make apikey``
(their secret is shown once, there)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from shared.config import get_settings
from shared.money import format_money
from shared.rates import Limit
from web.wallets.models import (
    ApiKey,
    Hold,
    Tenant,
    Transfer,
    Wallet,
    WalletOperation,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

admin.site.enable_nav_sidebar = False  # the lists get the page's whole width (the index links every model)


def _short(value: object) -> str:
    """A UUID as its first 8 characters, the whole of it on hover (and in the page, for search
    and copy)."""
    text = str(value)
    return format_html('<span title="{}">{}…</span>', text, text[:8])


def _clipped(value: str | None, width: int = 20) -> str:
    """A text cut to ``width`` characters, the whole of it on hover: a long error message would
    otherwise widen a list past the page (every cell is on one line)."""
    if value is None:
        return "-"
    if len(value) <= width:
        return value
    return format_html('<span title="{}">{}…</span>', value, value[: width - 1])


class _IdsOnOneLine(admin.ModelAdmin):
    class Media:
        css = {"all": ("wallets/admin.css",)}  # noqa: RUF012 (Django reads a class attribute)


class _NoAddOrDelete(_IdsOnOneLine):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ReadOnly(_NoAddOrDelete):
    """Written only by the shard workers (or, for wallets, by tenants' keys through the API)."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Id", ordering="id")
    def short_id(self, obj: Any) -> str:
        """The row's id, short (whole on hover): for lists where ids would wrap or crowd out columns."""
        return _short(obj.id)


_MONEY_FIELDS = {
    "amount": "amount",
    "balance": "balance",
    "held": "held",
    "balance_after": "balance after",
    "held_after": "held after",
    "captured": "captured",
    "min_balance": "min balance",
    "max_balance": "max balance",
}
"""The money columns of the ledger's tables, each shown by ``_MoneyShown`` as ``<name>_shown``."""


def _money_shown(field: str) -> Callable[[Any, Any], str]:
    """A money column (``field``) shown as the API shows it: with its row's currency's decimals
    (the column keeps four)."""

    @admin.display(description=_MONEY_FIELDS[field], ordering=field)
    def shown(self: Any, obj: Any) -> str:
        value = getattr(obj, field)
        return "-" if value is None else format_money(value, obj.currency)

    return shown


def _with_money_shown(names: Iterable[str]) -> tuple[str, ...]:
    """Field names with each money column replaced by how ``_MoneyShown`` shows it (a model's
    field of a name is shown raw, whatever the admin defines of that name)."""
    return tuple(f"{name}_shown" if name in _MONEY_FIELDS else name for name in names)


class _MoneyShown(_ReadOnly):
    """Every money column, in its currency."""

    amount_shown = _money_shown("amount")
    balance_shown = _money_shown("balance")
    held_shown = _money_shown("held")
    balance_after_shown = _money_shown("balance_after")
    held_after_shown = _money_shown("held_after")
    captured_shown = _money_shown("captured")
    min_balance_shown = _money_shown("min_balance")
    max_balance_shown = _money_shown("max_balance")

    @admin.display(description="ccy", ordering="currency")
    def ccy(self, obj: Any) -> str:
        """The currency, under the finance trade's short header: a list's narrowest column."""
        return str(obj.currency)


class _ErrorClipped(_MoneyShown):
    @admin.display(description="Error", ordering="error")
    def error_clipped(self, obj: Any) -> str:
        """The row's error, cut short in the list (whole on hover and on the detail page)."""
        return _clipped(obj.error)


def _wallet_link(wallet_id: object) -> str:
    """A wallet's short id, linked to its page."""
    if wallet_id is None:
        return "-"
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:wallets_wallet_change", args=[wallet_id]), _short(wallet_id)
    )


def _ledger_link(field: str, value: object, label: str) -> str:
    """A link to the operations list filtered on ``field`` (e.g. ``hold__id__exact``)."""
    url = reverse("admin:wallets_walletoperation_changelist") + f"?{field}={value}"
    return format_html('<a href="{}">{}</a>', url, label)


@admin.register(Tenant)
class TenantAdmin(_NoAddOrDelete):
    list_display = ("name", "wallet_count", "wallet_limit", "created_at")
    search_fields = ("name",)
    fields = ("name", "wallet_limit", "wallet_count", "created_at")
    readonly_fields = ("name", "wallet_count", "created_at")


@admin.register(ApiKey)
class ApiKeyAdmin(_NoAddOrDelete):
    list_display = ("prefix", "name", "tenant", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scopes", ("revoked_at", admin.EmptyFieldListFilter), "tenant")
    search_fields = ("prefix", "name", "=id", "tenant__name")
    readonly_fields = ("id", "prefix", "tenant", "scopes", "created_at", "last_used_at", "revoked_at")
    fields = (
        *("id", "prefix", "name", "tenant", "scopes", "created_at", "last_used_at", "revoked_at"),
        *(limit.field for limit in Limit),
    )
    ordering = ("-created_at",)
    actions = ("revoke",)

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        seconds = get_settings().api_key_cache_seconds
        self.message_user(
            request, f"Revoked {count} key(s): refused on every web node within {seconds:g} s.", messages.SUCCESS
        )


@admin.register(Wallet)
class WalletAdmin(_MoneyShown):
    list_display = ("id", "tenant", "ccy", "balance_shown", "held_shown", "status", "created_at", "updated_at")
    list_filter = ("status", "tenant")
    readonly_fields = _with_money_shown(
        (
            "id",
            "tenant",
            "currency",
            "balance",
            "held",
            "min_balance",
            "max_balance",
            "status",
            "created_at",
            "updated_at",
            "history",
        )
    )
    search_fields = ("=id",)
    ordering = ("-created_at",)
    show_full_result_count = False

    @admin.display(description="Operations")
    def history(self, obj: Wallet) -> str:
        return _ledger_link("wallet__id__exact", obj.id, "Ledger of this wallet")


@admin.register(WalletOperation)
class WalletOperationAdmin(_ErrorClipped):
    # The key and the hold or transfer are on the detail page: the list fits a laptop's width.
    list_display = (
        "short_id",
        "wallet_link",
        "operation_type",
        "amount_shown",
        "ccy",
        "status",
        "balance_after_shown",
        "error_clipped",
        "applied_at",
    )
    list_display_links = ("short_id",)
    list_filter = ("operation_type", "status", "applied_at")
    search_fields = ("=id", "=wallet__id", "=transfer__id", "=hold__id")
    readonly_fields = _with_money_shown(f.name for f in WalletOperation._meta.fields)
    ordering = ("-seq",)
    show_full_result_count = False

    @admin.display(description="Wallet", ordering="wallet_id")
    def wallet_link(self, obj: WalletOperation) -> str:
        return _wallet_link(obj.wallet_id)


@admin.register(Transfer)
class TransferAdmin(_ErrorClipped):
    """Read only: a transfer's record is written by the shard workers, with its legs."""

    # Short ids (whole on hover and on the detail page, with the key and the update time).
    list_display = ("short_id", "state", "amount_shown", "ccy", "error_clipped", "created_at", "from_link", "to_link")
    list_display_links = ("short_id",)
    # "Set aside": pending transfers the sweep gave up on (worker.transfers), why on the detail page.
    list_filter = ("state", ("stalled", admin.EmptyFieldListFilter))
    search_fields = ("=id", "=from_wallet__id", "=to_wallet__id")
    readonly_fields = (*_with_money_shown(f.name for f in Transfer._meta.fields), "legs")
    ordering = ("-created_at",)
    show_full_result_count = False

    @admin.display(description="From", ordering="from_wallet_id")
    def from_link(self, obj: Transfer) -> str:
        return _wallet_link(obj.from_wallet_id)

    @admin.display(description="To", ordering="to_wallet_id")
    def to_link(self, obj: Transfer) -> str:
        return _wallet_link(obj.to_wallet_id)

    @admin.display(description="Legs")
    def legs(self, obj: Transfer) -> str:
        return _ledger_link("transfer__id__exact", obj.id, "Ledger rows of this transfer")


@admin.register(Hold)
class HoldAdmin(_MoneyShown):
    """Read only: a hold is written by the worker of its wallet's shard, with its ledger rows."""

    list_display = (
        "short_id",
        "wallet_link",
        "state",
        "amount_shown",
        "ccy",
        "captured_shown",
        "expires_at",
        "created_at",
    )
    list_display_links = ("short_id",)
    list_filter = ("state",)
    search_fields = ("=id", "=wallet__id", "=to_wallet__id")
    readonly_fields = (*_with_money_shown(f.name for f in Hold._meta.fields), "changes")
    ordering = ("-created_at",)
    show_full_result_count = False

    @admin.display(description="Wallet", ordering="wallet_id")
    def wallet_link(self, obj: Hold) -> str:
        return _wallet_link(obj.wallet_id)

    @admin.display(description="Ledger")
    def changes(self, obj: Hold) -> str:
        return _ledger_link("hold__id__exact", obj.id, "Ledger rows of this hold")


_SECRETS = ("secret", "previous_secret")
"""Never shown, nor sent to the browser."""


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    """Read only, and never the secret: a tenant registers, rotates and deletes its endpoints
    through the API."""

    list_display = ("short_id", "tenant", "short_url", "status", "created_at")
    list_display_links = ("short_id",)
    list_filter = ("status", ("deleted_at", admin.EmptyFieldListFilter), "tenant")
    search_fields = ("=id", "url")
    exclude = _SECRETS
    readonly_fields = (*(f.name for f in WebhookEndpoint._meta.fields if f.name not in _SECRETS), "deliveries")
    ordering = ("-created_at",)

    @admin.display(description="URL", ordering="url")
    def short_url(self, obj: WebhookEndpoint) -> str:
        """The URL's first 40 characters, the whole of it on hover (and on its page)."""
        return _clipped(obj.url, 41)

    @admin.display(description="Deliveries")
    def deliveries(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:wallets_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.id}"
        return format_html('<a href="{}">{}</a>', url, "Deliveries to this endpoint")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    """Read only: made by the dispatcher, moved on by the webhook workers."""

    list_display = ("id", "short_event", "endpoint_link", "state", "attempts", "next_attempt_at", "delivered_at")
    list_filter = ("state",)
    search_fields = ("=event_id", "=endpoint__id")
    readonly_fields = (*(f.name for f in WebhookDelivery._meta.fields), "attempt_log")
    ordering = ("-id",)
    show_full_result_count = False

    @admin.display(description="Event", ordering="event_id")
    def short_event(self, obj: WebhookDelivery) -> str:
        return _short(obj.event_id)

    @admin.display(description="Endpoint", ordering="endpoint_id")
    def endpoint_link(self, obj: WebhookDelivery) -> str:
        url = reverse("admin:wallets_webhookendpoint_change", args=[obj.endpoint_id])
        return format_html('<a href="{}">{}</a>', url, _short(obj.endpoint_id))

    @admin.display(description="Attempts")
    def attempt_log(self, obj: WebhookDelivery) -> str:
        rows = WebhookAttempt.objects.filter(delivery_id=obj.id).order_by("attempt")
        lines = [
            format_html("{}: {} {} ({} ms)", a.attempt, a.at.isoformat(), a.status_code or a.error, a.latency_ms)
            for a in rows
        ]
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) if lines else "-"
