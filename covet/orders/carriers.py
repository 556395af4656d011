"""The carriers a store can ship with, their public tracking pages, and what a tracking number may look like."""
from __future__ import annotations

import re
from urllib.parse import quote

CARRIERS: dict[str, str] = {
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "royal-mail": "Royal Mail",
    "la-poste": "La Poste (Colissimo)",
    "chronopost": "Chronopost",
    "dpd": "DPD",
    "gls": "GLS",
    "canada-post": "Canada Post",
    "australia-post": "Australia Post",
    "postnl": "PostNL",
    "other": "Other",
}

# Each carrier's public tracking page; {n} is the URL-encoded tracking number.
_TRACKING_PAGES: dict[str, str] = {
    "ups": "https://www.ups.com/track?tracknum={n}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={n}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={n}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={n}",
    "royal-mail": "https://www.royalmail.com/track-your-item#/tracking-results/{n}",
    "la-poste": "https://www.laposte.fr/outils/suivre-vos-envois?code={n}",
    "chronopost": "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={n}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{n}",
    "gls": "https://gls-group.com/track/{n}",
    "canada-post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={n}",
    "australia-post": "https://auspost.com.au/mypost/track/details/{n}",
    "postnl": "https://postnl.nl/tracktrace/?B={n}",
}
_TRACKING_NUMBER = re.compile(r"[A-Za-z0-9-]{4,40}")
TRACKING_NUMBER_HELP = "A tracking number is 4 to 40 letters, digits or dashes."


def carrier_label(carrier: str) -> str:
    """The name customers read ("DHL"), the code itself for an unknown one."""
    return CARRIERS.get(carrier, carrier)


def clean_tracking_number(number: str | None) -> str | None:
    """The number without spaces if it is a plausible tracking number, else None."""
    cleaned = (number or "").replace(" ", "")
    return cleaned if _TRACKING_NUMBER.fullmatch(cleaned) else None


def tracking_url(carrier: str, number: str | None) -> str | None:
    """The carrier's public tracking page for this number; None for "other", an unknown carrier or no number."""
    pattern = _TRACKING_PAGES.get(carrier)
    cleaned = clean_tracking_number(number)
    if pattern is None or cleaned is None:
        return None
    return pattern.format(n=quote(cleaned, safe=""))
