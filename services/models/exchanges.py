from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class DataSource(StrEnum):
    API = "api"
    CSV = "csv"


class Exchange(Model):
    """One exchange we are an affiliate of, as configured by the operators."""

    id = fields.CharField(max_length=16, primary_key=True)
    name = fields.CharField(max_length=64)
    enabled = fields.BooleanField(default=True)
    position = fields.IntField(default=0)
    # Our affiliate link; may contain {sub} for a per-trader sub-id where the exchange supports it.
    link_template = fields.CharField(max_length=512)
    # The share of our commission paid to the trader, 0..1 (e.g. 0.6 for a 60/40 split).
    trader_share = fields.DecimalField(max_digits=5, decimal_places=4)
    # What the exchange pays us, as a fraction of the trader's fees (informational).
    commission_rate = fields.DecimalField(max_digits=5, decimal_places=4, null=True)
    min_withdrawal = fields.DecimalField(max_digits=20, decimal_places=8, default=0)
    sync_interval_minutes = fields.IntField(default=240)
    data_source = fields.CharEnumField(DataSource, max_length=8, default=DataSource.API)
    # False for adapters built from thin public docs (HTX, Weex) until checked against the
    # real API.
    api_verified = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "exchanges"
        ordering = ["position", "id"]


class ExchangeCredential(Model):
    """API credentials for one exchange entered in the admin screen (they take precedence over
    the EXCHANGE_<ID>_API_* environment settings).

    ``ciphertext`` is a Fernet token (services/credentials.py) of the key, secret and passphrase;
    nothing else here is secret. At most one row per exchange is current (``revoked_at`` NULL);
    a replacement or removal stamps the old row, so who set what and when stays on record.
    """

    id = fields.BigIntField(primary_key=True)
    exchange_id = fields.CharField(max_length=16, db_index=True)
    ciphertext = fields.TextField()
    # The API key's last 4 characters, shown to operators so they can tell keys apart.
    hint = fields.CharField(max_length=8)
    expires_on = fields.DateField(null=True)
    set_by = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by = fields.BigIntField(null=True)

    class Meta:
        table = "exchange_credentials"
        ordering = ["-id"]
