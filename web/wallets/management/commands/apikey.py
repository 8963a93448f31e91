"""``manage.py apikey``: make, list and revoke API keys.

manage.py apikey create --tenant acme [--scopes read] [--name ci] [--rate-limit-writes 500/second]
                                                       # the secret is the last line
manage.py apikey revoke wk_3f9a0c1d2e
manage.py apikey list [--tenant acme]
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shared.config import get_settings
from shared.rates import Limit, RateLimit
from web.wallets.auth.api_keys import Scope, key_create, key_revoke
from web.wallets.models import ApiKey

SCOPES = {"read": Scope.READ, "read,write": Scope.READ_WRITE, "write": Scope.READ_WRITE}


def _rate(raw: str) -> RateLimit:
    try:
        return RateLimit.parse(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r}: write it as 100/second or 20/10 minutes") from None


_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class Command(BaseCommand):
    help = "Create, list or revoke API keys (a key's secret is printed once, on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="a new key for a tenant (created if new)")
        create.add_argument("--tenant", required=True, help="tenant name: lowercase letters, digits, - and _")
        create.add_argument("--scopes", default="read,write", choices=sorted(SCOPES))
        create.add_argument("--name", default="", help="what the key is for (shown in the admin)")
        for limit in Limit:
            create.add_argument(
                "--" + limit.field.replace("_", "-"),
                type=_rate,
                metavar="RATE",
                help=f"{limit.value} this key may send, e.g. 100/second or 20/10 minutes "
                f"(default: the {limit.field.upper()} setting)",
            )
        revoke = actions.add_parser("revoke", help="revoke a key by its prefix or id")
        revoke.add_argument("key", help="the key's prefix (wk_…) or id")
        listing = actions.add_parser("list", help="keys, newest first")
        listing.add_argument("--tenant")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            rates = {limit: options[limit.field] for limit in Limit if options[limit.field] is not None}
            self._create(options["tenant"], SCOPES[options["scopes"]], options["name"], rates)
        elif action == "revoke":
            if not key_revoke(prefix_or_id=options["key"]):
                raise CommandError(f"no active key {options['key']!r}")
            seconds = get_settings().api_key_cache_seconds
            self.stdout.write(f"revoked {options['key']}: refused on every web node within {seconds:g} s")
        else:
            keys = ApiKey.objects.select_related("tenant").order_by("-created_at")
            if options["tenant"]:
                keys = keys.filter(tenant__name=options["tenant"])
            for key in keys:
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
                used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                self.stdout.write(
                    f"{key.prefix}  {key.tenant.name}  {key.scopes}  {state}  last used {used}  {key.name}"
                )

    def _create(self, tenant: str, scope: Scope, name: str, rates: dict[Limit, RateLimit]) -> None:
        if not _TENANT.fullmatch(tenant):
            raise CommandError("tenant: 1 to 64 lowercase letters, digits, - and _, starting with a letter or digit")
        settings = get_settings()
        key = key_create(tenant=tenant, name=name, scope=scope, wallet_limit=settings.tenant_wallet_limit, rates=rates)
        self.stdout.write(f"API key {key.prefix} ({key.id}) for tenant {tenant}, scopes {scope.value}")
        limits = ", ".join(f"{settings.rate_limit(limit, rates)} {limit.value}" for limit in Limit)
        self.stdout.write(f"rate limits: {limits}")
        self.stdout.write("the secret below is shown once; only its SHA-256 is stored:")
        self.stdout.write(key.secret)
