"""Exchange integration: affiliate data adapters, CSV import and a local exchange simulator.

Never imports `services`, aiogram or Tortoise: the domain talks to this package only through
`exchanges.base.AffiliateSource` and the plain data shapes next to it.
"""
