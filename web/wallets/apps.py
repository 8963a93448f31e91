from django.apps import AppConfig


class WalletsConfig(AppConfig):
    name = "web.wallets"
    label = "wallets"
    verbose_name = "Wallets"
