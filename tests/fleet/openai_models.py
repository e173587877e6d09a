"""What OpenAI's API refuses per model family, for both OpenAI faces.

The real API answers 400 when a reasoning model (o1, o3, o4-mini, codex-mini,
gpt-5 except gpt-5-chat) gets sampling parameters other than their defaults
or the old ``max_tokens``; o1-mini/o1-preview take no system or developer
turns; models served only by the Responses API (o3-pro, gpt-5-codex, ...)
are refused on Chat Completions.  The fleet does the same, so a gateway that
forgets a quirk fails its test instead of passing by luck.

Model names are matched by prefix, so test names can carry a unique suffix
(``o3-mini-5f2c...``).
"""

from __future__ import annotations

from typing import Any, Callable

REASONING_PREFIXES = ("o1", "o3", "o4-mini", "codex-mini", "gpt-5")
NOT_REASONING_PREFIXES = ("gpt-5-chat",)
LEGACY_O1_PREFIXES = ("o1-mini", "o1-preview")
RESPONSES_ONLY_PREFIXES = (
    "o1-pro",
    "o3-pro",
    "o3-deep-research",
    "o4-mini-deep-research",
    "gpt-5-pro",
    "gpt-5-codex",
    "gpt-5.1-codex",
    "gpt-5.2-pro",
    "codex-mini-latest",
    "computer-use-preview",
)

# field -> its only accepted value on reasoning models (None: not accepted at all)
CHAT_DEFAULTS: dict[str, Any] = {
    "temperature": 1,
    "top_p": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logprobs": False,
    "top_logprobs": None,
    "logit_bias": None,
}


def is_reasoning(model: str) -> bool:
    return model.startswith(REASONING_PREFIXES) and not model.startswith(NOT_REASONING_PREFIXES)


def is_responses_only(model: str) -> bool:
    return model.startswith(RESPONSES_ONLY_PREFIXES)


def _is_default(value: Any, default: Any) -> bool:
    if default is None:
        return False
    if isinstance(default, bool):
        return value is default
    return not isinstance(value, bool) and value == default


def check_chat_params(body: dict[str, Any], model: str, bad: Callable[..., Exception], not_found: Callable[..., Exception]) -> None:
    """Raise what OpenAI's Chat Completions raises for ``model``."""
    if is_responses_only(model):
        raise not_found("This model is only supported in v1/responses and not in v1/chat/completions.", "model")
    if not is_reasoning(model):
        return
    if body.get("max_tokens") is not None:
        raise bad(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    for field, default in CHAT_DEFAULTS.items():
        value = body.get(field)
        if value is None or _is_default(value, default):
            continue
        if field in ("temperature", "top_p"):
            raise bad(
                f"Unsupported value: '{field}' does not support {value} with this model. Only the default ({default}) value is supported.",
                field,
                "unsupported_value",
            )
        raise bad(f"Unsupported parameter: '{field}' is not supported with this model.", field, "unsupported_parameter")
    if model.startswith(LEGACY_O1_PREFIXES):
        for i, m in enumerate(body.get("messages") or []):
            role = m.get("role") if isinstance(m, dict) else None
            if role in ("system", "developer"):
                raise bad(
                    f"Unsupported value: 'messages[{i}].role' does not support '{role}' with this model.",
                    f"messages[{i}].role",
                    "unsupported_value",
                )


def check_responses_params(body: dict[str, Any], model: str, bad: Callable[..., Exception]) -> None:
    """Raise what the Responses API raises for ``model``."""
    if is_reasoning(model):
        for field in ("temperature", "top_p"):
            if body.get(field) is not None:
                raise bad(f"Unsupported parameter: '{field}' is not supported with this model.", field, "unsupported_parameter")
    elif body.get("reasoning") is not None:
        raise bad("Unsupported parameter: 'reasoning.effort' is not supported with this model.", "reasoning.effort", "unsupported_parameter")
