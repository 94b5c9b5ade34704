"""A tiny random Llama model, its tokenizer and a LoRA adapter, all built locally (no hub)."""

from __future__ import annotations

from pathlib import Path

WORDS = [
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "data",
    "rules",
    "verbs",
    "resources",
    "apiGroups",
    "subjects",
    "roleRef",
    "ConfigMap",
    "Secret",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "Namespace",
    "ServiceAccount",
    "get",
    "list",
    "watch",
    "create",
    "update",
    "delete",
    "pods",
    "services",
    "deployments",
    "team",
    "app",
    "web",
    "api",
    "prod",
    "dev",
    "the",
    "a",
    "to",
    "in",
    "of",
    "and",
    "for",
    "with",
    "create",
    "make",
    "add",
    "please",
    "named",
    "called",
    "key",
    "value",
    "yes",
    "no",
    ":",
    "-",
    ".",
]
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> "
    "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
)


def build_tiny_model(folder: Path, *, seed: int = 0, sliding_window: int | None = None) -> Path:
    """Save a 2-layer, 64-wide Llama with a word-level tokenizer and chat template (a
    Mistral with that attention window instead when `sliding_window` is given)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        PreTrainedTokenizerFast,
    )

    vocab = {token: i for i, token in enumerate([*SPECIALS, "user", "system", "assistant"])}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config_class, model_class = (
        (LlamaConfig, LlamaForCausalLM)
        if sliding_window is None
        else (MistralConfig, MistralForCausalLM)
    )
    extra = {} if sliding_window is None else {"sliding_window": sliding_window}
    config = config_class(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=vocab["<pad>"],
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["<|im_end|>"],
        tie_word_embeddings=False,
        **extra,
    )
    torch.manual_seed(seed)
    model = model_class(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_lora_adapter(base: Path, folder: Path, *, seed: int = 1) -> Path:
    """Save a LoRA adapter whose random (non-zero) weights change the base model's outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM.from_pretrained(base)
    config = LoraConfig(
        r=8,
        lora_alpha=32,
        target_modules=["q_proj", "v_proj", "down_proj"],
        init_lora_weights=False,  # the default initialisation is a no-op adapter
        task_type="CAUSAL_LM",
    )
    get_peft_model(model, config).save_pretrained(folder)
    return folder
