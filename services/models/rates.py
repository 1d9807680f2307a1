"""Trader-share and estimate rates with history (``valid_from``), and what the rebate engine has
booked per commission record.

Every rate row is in force from its ``valid_from`` day until the next row of the same key, so a
change never rewrites days already past unless an admin re-runs an explicit re-accrual.
``exchange_id = "*"`` (and ``product = "*"``) means "every exchange" ("every product").
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

ALL = "*"


class EstimateBasis(StrEnum):
    FEE = "fee"  # gross = fee_usdt × rate (our commission rate on the trader's fees)
    VOLUME = "volume"  # gross = volume_usdt × rate (an effective rate on volume)


class ExchangeShareHistory(Model):
    """The exchange's default trader share from a day on (Exchange.trader_share is the current
    value; this table remembers the past)."""

    id = fields.BigIntField(primary_key=True)
    exchange_id = fields.CharField(max_length=16)
    share = fields.DecimalField(max_digits=7, decimal_places=6)
    valid_from = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rate_exchange_shares"
        unique_together = (("exchange_id", "valid_from"),)


class RateGroup(Model):
    """A VIP tier: a custom trader share per exchange (or for all) for its members."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rate_groups"


class RateGroupShare(Model):
    id = fields.BigIntField(primary_key=True)
    group_id = fields.BigIntField()
    exchange_id = fields.CharField(max_length=16)  # or "*"
    # NULL: no group rate from this day on.
    share = fields.DecimalField(max_digits=7, decimal_places=6, null=True)
    valid_from = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rate_group_shares"
        unique_together = (("group_id", "exchange_id", "valid_from"),)


class RateGroupMember(Model):
    """A trader's group from a day on (group_id NULL: in no group from that day)."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField()
    group_id = fields.BigIntField(null=True)
    valid_from = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rate_group_members"
        unique_together = (("user_id", "valid_from"),)


class TraderShare(Model):
    """A per-trader share (share NULL: the override ends that day)."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField()
    exchange_id = fields.CharField(max_length=16)  # or "*"
    share = fields.DecimalField(max_digits=7, decimal_places=6, null=True)
    valid_from = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rate_trader_shares"
        unique_together = (("user_id", "exchange_id", "valid_from"),)


class EstimateRate(Model):
    """What we expect to earn where the exchange reports volume/fees but not our commission."""

    id = fields.BigIntField(primary_key=True)
    exchange_id = fields.CharField(max_length=16)
    product = fields.CharField(max_length=16)  # or "*"
    basis = fields.CharEnumField(EstimateBasis, max_length=8)
    rate = fields.DecimalField(max_digits=14, decimal_places=10)
    valid_from = fields.DateField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "rate_estimates"
        unique_together = (("exchange_id", "product", "valid_from"),)


class RebateAccrual(Model):
    """What is booked in the ledger for one commission record: the totals after the last booking
    (the ledger entries hold each step). Written only together with its ledger entry."""

    # A surrogate key: Tortoise 1.1.9's makemigrations re-emits a non-generated primary key as a
    # change in every new migration (see the User model in 0002).
    id = fields.BigIntField(primary_key=True)
    record_id = fields.BigIntField(unique=True)
    user_id = fields.BigIntField()
    exchange_id = fields.CharField(max_length=16)
    day = fields.DateField()
    product = fields.CharField(max_length=16)
    revision = fields.IntField()  # the record revision booked last
    volume_usdt = fields.DecimalField(max_digits=30, decimal_places=8, null=True)
    fee_usdt = fields.DecimalField(max_digits=30, decimal_places=8, null=True)
    gross = fields.DecimalField(max_digits=30, decimal_places=8)
    trader_amount = fields.DecimalField(max_digits=30, decimal_places=8)
    service_amount = fields.DecimalField(max_digits=30, decimal_places=8)
    share = fields.DecimalField(max_digits=7, decimal_places=6)
    share_source = fields.CharField(max_length=16)  # exchange | group | trader
    estimated = fields.BooleanField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rebate_accruals"
        # Its (user_id, day) index carries the figures a trader's screens sum (INCLUDE, which
        # Tortoise cannot declare): migrations/0010 creates it; the dashboard and the balance
        # read only the index (bench/bench_miniapp.py).
