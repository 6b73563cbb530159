"""Card decline codes: which declines asking the bank again can change, and what the customer reads.

A payment provider answers a decline with a code (Stripe's `decline_code`, the names used here:
https://docs.stripe.com/declines/codes). The code is for staff; the customer reads `advice`, what
to do, never the code, and never an accusation (a stolen card reads as any card the bank refuses).

Hard or soft comes from the card networks' retry rules, as processors pass them on:

- **soft** (`retryable`): the issuer cannot approve *now* and may later. Visa's decline category 2
  "issuer cannot approve at this time" (51 insufficient funds, 19 re-enter the transaction, 91
  issuer unavailable), Stripe's `advice_code` `try_again_later`. The pipeline asks again as the
  order's workflow version says (`steps.payment.stateRetries`).
- **hard**: asking again with the same card cannot succeed, and the networks charge the merchant
  for each reattempt. Visa's category 1 "issuer will never approve" (41 lost, 43 stolen card) and
  category 3 "cannot approve with these details" (54 expired card, N7 CVV2 mismatch: only new card
  details change the answer), Stripe's `advice_code` `do_not_try_again` and `confirm_card_data`.
  One charge call; the order ends declined at once.

Visa puts 05 "do not honor" with the generic codes (category 4), which it lets a merchant retry;
Stripe's next step for `do_not_honor` is that the customer calls their bank, which no retry of ours
replaces, so it is hard here. `generic_decline` (the bank gave no reason) stays soft, as does a
code this table does not know (`decline_for`), the store's behaviour before codes.
"""
from dataclasses import dataclass

from providers.base import GatewayResult


@dataclass(frozen=True)
class Decline:
    """What a decline code means to the store: `retryable` (soft) or not (hard), and `advice`, the
    customer's sentence (at most 200 characters: it becomes the order's failure reason)."""

    code: str
    retryable: bool
    advice: str


_CARD_REFUSED = "Your bank declined this card. Use another card or contact your bank."

DECLINES: dict[str, Decline] = {decline.code: decline for decline in (
    # Soft: the issuer may approve later.
    Decline("insufficient_funds", True,
            "Your bank declined the payment for lack of funds. Try another card or try again later."),
    Decline("try_again_later", True, "Your bank could not approve the payment just now. Try again later or use "
                                     "another card."),
    Decline("generic_decline", True, "Your bank declined the payment. Try another card or contact your bank."),
    # The bank wanted the cardholder to confirm the payment (3-D Secure) and they did not.
    Decline("authentication_required", True, "Your bank could not confirm the payment. Try again and complete "
                                             "your bank's check, or use another card."),
    # Hard: the same card will not be approved.
    Decline("do_not_honor", False, _CARD_REFUSED),
    Decline("stolen_card", False, _CARD_REFUSED),
    Decline("lost_card", False, _CARD_REFUSED),
    Decline("expired_card", False, "This card has expired. Use another card."),
    Decline("incorrect_cvc", False, "Your bank could not verify this card's details. Check them and try again, "
                                    "or use another card."),
)}
GENERIC_DECLINE = DECLINES["generic_decline"]


def decline_for(code: str) -> Decline:
    """The decline of `code`; a code not in DECLINES is treated as `generic_decline` (soft, its
    advice), keeping the code the provider gave for staff; no code ("") is `generic_decline` itself.
    The customer reads `advice`, never the words a bank sent with a decline (they may say
    "stolen card - pick up"): staff keep those where they read the event."""
    if not code:
        return GENERIC_DECLINE
    known = DECLINES.get(code)
    if known is not None:
        return known
    return Decline(code, GENERIC_DECLINE.retryable, GENERIC_DECLINE.advice)


def declined(code: str, *, latency_ms: int = 0, data: dict | None = None) -> GatewayResult:
    """A provider's answer declining a charge with `code`: the customer's advice as its reason."""
    decline = decline_for(code)
    return GatewayResult(ok=False, reason=decline.advice, code=decline.code, retryable=decline.retryable,
                         latency_ms=latency_ms, data=data or {})
