"""Model names as users send them, matched by genai-prices' own rules.

Users send ``gpt-4o-2024-08-06``, ``openai/gpt-4o`` or
``anthropic.claude-sonnet-4-5-20250929-v1:0``; synced prices are kept under
``provider/model`` SKUs named as genai-prices names them
(``openai/gpt-4o``). The package's rules (each model's ``match`` clauses,
provider aliases such as ``bedrock`` for ``aws``, providers that fall back
to another's models, compact dates) say which model a name means. The
catalog asks once per distinct name and caches the answer.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from schemas.prices import synced_sku

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot


def source_candidates(provider: str, model: str) -> list[str]:
    """SKUs the source's rules give this name, most specific first; may be empty.

    Tried as sent, then with a leading ``provider/`` prefix taken off the
    model (``openai/gpt-4o``), each with the provider as sent and then
    without one (the source guesses the provider from the model name).
    """
    snapshot, owners = _source()
    attempts = [(provider, model)]
    prefix, slash, rest = model.partition("/")
    if slash and rest:
        attempts += [(prefix, rest), (provider, rest)]
    found: list[str] = []
    for provider_ref, model_ref in attempts:
        for provider_id in (provider_ref or None, None):
            try:
                _, info = snapshot.find_provider_model(model_ref, None, provider_id, None)
            except LookupError:
                continue
            for sku in (synced_sku(owners[id(info)], info.id), info.id):
                if sku not in found:
                    found.append(sku)
    return found


@cache
def _source() -> tuple[DataSnapshot, dict[int, str]]:
    # Imported on first use: the bundled data is a large module.
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    owners = {id(model): provider.id for provider in snapshot.providers for model in provider.models}
    return snapshot, owners
