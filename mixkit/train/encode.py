"""One conversation -> token ids and labels, with the model's own chat template.

Loss only on assistant turns: the character span of each assistant reply is found by
rendering the template on growing prefixes of the conversation (prompt with generation
prompt vs. prompt plus the reply), then the full text is tokenised once and every token
whose first character falls in a reply span keeps its label; all others get -100. Works
for any prefix-stable template (ChatML/Qwen2.5, Cohere/Aya), no `{% generation %}` tags needed.
Each `<image>` token is expanded to the number of vision features per image.
"""
from __future__ import annotations

IGNORE = -100


class EncodeError(ValueError):
    """A sample that cannot be trained on; `reason` is a short slug counted in the logs."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _render(tokenizer, messages, add_generation_prompt=False, chat_template=None) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                         chat_template=chat_template)


def assistant_spans(tokenizer, messages: list[dict], chat_template: str | None = None) -> tuple[str, list[tuple[int, int]]]:
    """(rendered text, [(start, end) character spans of assistant replies incl. their end-of-turn token])."""
    full = _render(tokenizer, messages, chat_template=chat_template)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:i], add_generation_prompt=True, chat_template=chat_template) if i else ""
        upto = _render(tokenizer, messages[:i + 1], chat_template=chat_template)
        if not (upto.startswith(prompt) and full.startswith(upto)):
            raise EncodeError("template_not_prefix_stable", f"turn {i}")
        # rstrip: learn the end-of-turn token, not the newline the template puts after it
        spans.append((len(prompt), len(upto.rstrip())))
    return full, spans


def encode_conversation(tokenizer, messages: list[dict], *, image_token_id: int, image_seq_len: int,
                        max_seq_len: int, chat_template: str | None = None) -> dict:
    """Returns {"input_ids": [...], "labels": [...], "n_images": k} (image tokens expanded, labels -100 off replies)."""
    if not any(m["role"] == "assistant" for m in messages):
        raise EncodeError("no_assistant_turn")
    text, spans = assistant_spans(tokenizer, messages, chat_template)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    input_ids, labels, n_images = [], [], 0
    for tid, (start, end) in zip(ids, offsets):
        if tid == image_token_id:
            input_ids += [image_token_id] * image_seq_len
            labels += [IGNORE] * image_seq_len
            n_images += 1
            continue
        in_reply = end > start and any(s <= start < e for s, e in spans)
        input_ids.append(tid)
        labels.append(tid if in_reply else IGNORE)
    if len(input_ids) > max_seq_len:
        # Cutting through an image's tokens would break the token/feature match: reject instead.
        if image_token_id in input_ids[max_seq_len:]:
            raise EncodeError("too_long", f"{len(input_ids)} tokens with images beyond max_seq_len={max_seq_len}")
        input_ids, labels = input_ids[:max_seq_len], labels[:max_seq_len]
    if all(lab == IGNORE for lab in labels[1:]):
        raise EncodeError("no_assistant_tokens", "nothing left to learn after truncation")
    return {"input_ids": input_ids, "labels": labels, "n_images": n_images}
