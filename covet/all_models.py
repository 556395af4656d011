"""Import every domain's models so metadata (and migrations) see the whole schema."""
from covet.accounts.models import User  # noqa: F401
from covet.audit.models import AuditLog  # noqa: F401
from covet.catalog.models import InventoryAdjustment, OptionValue, Product, ProductOption, Variant  # noqa: F401
from covet.disputes.models import Dispute, DisputeAction, DisputeFile, DisputeNote  # noqa: F401
from covet.jobs.models import JobOutbox  # noqa: F401
from covet.media.models import Media  # noqa: F401
from covet.notifications.models import EmailOutbox  # noqa: F401
from covet.orders.models import (  # noqa: F401
    Customer,
    Fulfilment,
    FulfilmentLine,
    Order,
    OrderFilterPreset,
    OrderLine,
    OrderNote,
    OrderTag,
)
from covet.payments.models import (  # noqa: F401
    DisputeLiability,
    Payment,
    Refund,
    StoreDebt,
    Transfer,
    TransferReversal,
)
from covet.payouts.models import Payout  # noqa: F401
from covet.storefront.models import PriceAlert  # noqa: F401
from covet.stores.models import Store  # noqa: F401
from covet.webhooks.models import StripeEvent  # noqa: F401
